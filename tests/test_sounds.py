"""Typos that sound like the corpus's own phrases (retrieval/sounds.py): mended before search."""

from __future__ import annotations

import pytest

from retrieval.lexical import LexicalIndex
from retrieval.sounds import Sounds

CORPUS = [
    "打瘦脸针后多久可以化妆？瘦脸针的效果一般维持四到六个月。",
    "长期注射肉毒素可能产生抗体，肉毒素的效果会降低，肉毒素不宜频繁注射。",
    "瘦脸针打多了会导致脸颊凹陷。打到瘦脸针的人不少，想打到瘦脸针要预约，打到瘦脸针后别按摩。",
    "Massage may help recovery from facial palsy.",
]


@pytest.fixture(scope="module")
def lexical() -> LexicalIndex:
    return LexicalIndex.build(CORPUS)


def test_a_phrase_that_sounds_like_the_corpus_is_written_as_the_corpus_writes_it(lexical):
    assert lexical.mend("瘦脸真效果能管多久") == "瘦脸针效果能管多久"
    assert lexical.mend("打完受脸针能化妆吗") == "打完瘦脸针能化妆吗"
    assert lexical.mend("长期打肉毒速会有抗体吗") == "长期打肉毒素会有抗体吗"


@pytest.mark.parametrize("text", [
    "瘦脸针效果能管多久",  # as the corpus writes it
    "我想知道瘦脸针能管多久",  # 道瘦脸 sounds like the corpus's 到瘦脸, but 知道 is a word
    "红烧肉怎么做才好吃",  # nothing sounds like the corpus
    "how long does shou lian zhen last",  # another language
    "",
])
def test_text_that_is_no_typo_of_the_corpus_is_left_as_it_is(lexical, text):
    assert lexical.mend(text) == text


def test_only_phrases_the_corpus_uses_often_and_as_a_unit_are_mended_towards(lexical):
    # 化妆 and 凹陷 are in the corpus, but their phrases (多久可以化妆, 脸颊凹陷) only once
    assert lexical.mend("脸颊凹限了") == "脸颊凹限了"
    assert all(len(phrase) >= 3 for phrase in lexical.sounds.by_sound.values())
    assert "瘦脸针" in lexical.sounds.by_sound.values()


def test_a_chance_sequence_is_no_phrase_however_often_it_occurs():
    sounds = Sounds.build(["打胰岛素麻烦"] * 3 + ["打胰岛素"] * 10)
    assert "胰岛素" in sounds.by_sound.values()
    # written 3 times, but 胰岛素 and 岛素 13 times: a rare continuation, not a phrase
    assert not {"胰岛素麻", "岛素麻"} & set(sounds.by_sound.values())


def test_the_phrases_are_saved_with_bm25_and_an_index_without_them_mends_nothing(lexical, tmp_path):
    lexical.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded.mend("瘦脸真效果能管多久") == "瘦脸针效果能管多久"
    (tmp_path / "bm25" / "sounds.json").unlink()  # an index built before typos were mended
    assert LexicalIndex.load(tmp_path / "bm25").mend("瘦脸真效果能管多久") == "瘦脸真效果能管多久"
    assert Sounds().mend("瘦脸真", lambda pair: False) == "瘦脸真"


@pytest.mark.parametrize("typo,written", [
    ("打完受脸针脸歪了多久能好", "打完瘦脸针脸歪了多久能好"),
    ("收脸针打多了会凹吗", "瘦脸针打多了会凹吗"),
    ("肉毒塑打多了会产生抗体吗", "肉毒素打多了会产生抗体吗"),
])
def test_a_typo_finds_what_the_question_written_right_finds(pipeline, typo, written):
    """The real model, FAISS and BM25 over the bundled corpus: the same passages, in the same order."""
    search = pipeline.searcher.search
    assert [h.chunk_id for h in search(typo)] == [h.chunk_id for h in search(written)]
    answer = pipeline.answer(typo)
    assert answer.question == typo  # shown and logged as written
    assert answer.searched == written  # and logged as searched, mended
    assert not answer.refused
