"""Everyday words for a symptom searched with the articles' words for it (retrieval/layterms.py)."""

from __future__ import annotations

import logging

from retrieval import layterms

KNOWN = {"面瘫", "口角", "角歪", "歪斜", "哺乳", "乳期"}.__contains__  # search tokens (character pairs) a corpus uses


def test_a_symptom_in_everyday_words_gets_the_article_words_the_corpus_uses():
    assert layterms.article_words("打完针以后笑起来嘴角往一边歪", KNOWN) == ["面瘫", "口角歪斜"]  # 一侧面部无力: not in this corpus
    assert layterms.expand("喂奶的时候能打吗", KNOWN) == "喂奶的时候能打吗（哺乳期）"
    # what the message already says is not added again; nothing matched, nothing changed
    assert layterms.article_words("面瘫了 嘴歪", KNOWN) == ["口角歪斜"]
    assert layterms.expand("打瘦脸针疼吗", KNOWN) == "打瘦脸针疼吗"
    # a corpus that never writes the words gets none of them
    assert layterms.expand("嘴巴有点歪", lambda token: False) == "嘴巴有点歪"


def test_an_everyday_phrase_is_matched_within_its_clause_only():
    # 嘴 and 歪 in different clauses say nothing about a crooked mouth
    assert layterms.article_words("嘴巴干，脸有点歪", KNOWN) == layterms.article_words("嘴巴干 脸有点歪", KNOWN) == []
    assert layterms.article_words("不用担心效果", lambda token: True) == []  # 不用 is no 没用


def test_an_operators_file_adds_entries_and_a_bad_line_is_skipped(tmp_path, monkeypatch, caplog):
    extra = tmp_path / "mine.tsv"
    extra.write_text("# mine\n(?:肚子|胃)[^，。]{0,2}疼\t腹痛\n([unclosed\t坏\nno tab here\n", "utf-8")
    monkeypatch.setenv(layterms.ENV, str(extra))
    with caplog.at_level(logging.WARNING):
        assert layterms.article_words("肚子好疼", lambda token: True) == ["腹痛"]
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 2
    monkeypatch.setenv(layterms.ENV, str(tmp_path / "missing.tsv"))
    with caplog.at_level(logging.WARNING):
        assert layterms.article_words("嘴巴有点歪", KNOWN) == ["面瘫", "口角歪斜"]  # the bundled entries still apply
    assert any("cannot be read" in r.getMessage() for r in caplog.records)


def test_a_crooked_smile_is_answered_from_the_article_about_palsy(pipeline):
    answer = pipeline.answer("打完瘦脸针一个礼拜了 笑的时候嘴角有点往一边斜 正常吗")
    assert not answer.refused and answer.passages[0].hit.article == "botox-facial-palsy-recovery.txt"
    assert answer.searched == "打完瘦脸针一个礼拜了 笑的时候嘴角有点往一边斜 正常吗"  # logged as sent, without the added words
