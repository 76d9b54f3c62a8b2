"""Chunking: sentence boundaries, sizes, headings, overlap, stable ids, near-duplicates."""

from __future__ import annotations

import dataclasses

import pytest

from common.text import near_duplicate, sha256, shingles, split_sentences
from corpus import DEFAULT_CORPUS, chunk_article, chunk_articles, load_corpus
from corpus.article import Article, Block
from corpus.chunk import MAX_CHARS, MIN_CHARS


@pytest.fixture(scope="module")
def articles():
    return load_corpus(DEFAULT_CORPUS)[0]


@pytest.fixture(scope="module")
def chunks(articles):
    return chunk_articles(articles)


def test_sentence_boundaries_chinese_and_english():
    assert split_sentences("第一句。第二句！第三句？第四句；第五句……最后") == [
        "第一句。",
        "第二句！",
        "第三句？",
        "第四句；",
        "第五句……",
        "最后",
    ]
    assert split_sentences("打瘦脸针安全吗?会有后遗症吗?") == ["打瘦脸针安全吗?", "会有后遗症吗?"]
    assert split_sentences("It works. Does it? Yes! Dose is 3.5 units.") == [
        "It works.",
        "Does it?",
        "Yes!",
        "Dose is 3.5 units.",
    ]
    # list numbers are not sentence ends
    assert split_sentences("1. 注射不均匀:原因。2. 个体差异:原因。") == ["1. 注射不均匀:原因。", "2. 个体差异:原因。"]
    assert split_sentences("他说：“好的。”然后走了。") == ["他说：“好的。”", "然后走了。"]


def test_sizes_stay_in_range(chunks):
    for chunk in chunks:
        assert len(chunk.text) <= MAX_CHARS, chunk.text
    # Only an article's last piece (or a tiny article) may fall below the target minimum.
    short = [c for c in chunks if len(c.text) < MIN_CHARS]
    assert len(short) <= 1


def test_headings_are_never_chunks_of_their_own(articles, chunks):
    headings = {b.text for a in articles for b in a.blocks if b.heading}
    for chunk in chunks:
        assert chunk.text.strip() not in headings
        assert len(chunk.text) > 40


def test_heading_and_title_go_into_what_is_embedded(chunks):
    chunk = next(c for c in chunks if "大约70%~85%的人在3个月内完全恢复" in c.text)
    assert chunk.heading is not None and "面瘫恢复的时间" in chunk.heading
    assert chunk.embed_text.startswith("打瘦脸针面瘫会恢复吗? / ")
    assert "面瘫恢复的时间" in chunk.embed_text.split("\n")[0]
    assert chunk.content_hash == sha256(chunk.embed_text)


def test_long_sections_are_split_with_an_overlap():
    sentences = [f"第{i}句讲的是面瘫恢复期间需要注意的第{i}件事情,内容较长以便测试分块。" for i in range(40)]
    article = Article("long.txt", "长文", [Block("小标题", heading=True), Block("".join(sentences))], "h")
    pieces = chunk_article(article)
    assert len(pieces) >= 3
    for a, b in zip(pieces, pieces[1:]):
        last_sentence = split_sentences(a.text.split("\n")[-1])[-1]
        assert b.text.startswith(last_sentence), "no overlap between consecutive chunks"
        assert b.heading == "小标题"


def test_a_sentence_longer_than_a_chunk_is_cut():
    article = Article("x.txt", "t", [Block("很长" * 600)], "h")
    pieces = chunk_article(article)
    assert len(pieces) >= 3
    assert all(len(p.text) <= MAX_CHARS for p in pieces)
    assert "".join(p.text for p in pieces).count("很长") >= 600


def test_ids_are_stable_and_follow_content(articles):
    first = chunk_articles(articles)
    again = chunk_articles(load_corpus(DEFAULT_CORPUS)[0])
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)

    # Changing the last paragraph of one article changes only the chunks that hold it.
    target = next(a for a in articles if a.path == "botox-facial-palsy-recovery.txt")
    blocks = [dataclasses.replace(b) for b in target.blocks]
    blocks[-1] = Block(blocks[-1].text + "本段在测试中被修改。")
    changed = dataclasses.replace(target, blocks=blocks)
    before = {c.chunk_id for c in chunk_article(target)}
    after = {c.chunk_id for c in chunk_article(changed)}
    assert len(before - after) == 1
    assert len(before & after) == len(before) - 1


def test_no_two_chunks_are_near_duplicates(chunks):
    grams = [shingles(c.text) for c in chunks]
    for i in range(len(chunks)):
        for j in range(i + 1, len(chunks)):
            assert not near_duplicate(grams[i], grams[j]), (chunks[i].text[:40], chunks[j].text[:40])


def test_duplicate_articles_collapse_across_the_corpus(articles):
    copy = dataclasses.replace(articles[0], path="copy-of-first.txt")
    duplicates: dict[str, str] = {}
    chunks = chunk_articles([articles[0], copy, articles[1]], duplicates=duplicates)
    assert {c.article for c in chunks} == {articles[0].path, articles[1].path}
    assert duplicates == {"copy-of-first.txt": articles[0].path}  # the article quoted in its place
