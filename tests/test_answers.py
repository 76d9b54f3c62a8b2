"""End to end with the real m3e-small model, real FAISS and SQLite over the bundled corpus."""

from __future__ import annotations

import pytest

from retrieval.compose import DISCLAIMER, NOT_COVERED

ON_TOPIC = [
    ("打瘦脸针后面瘫多久能恢复？", "botox-facial-palsy-recovery.txt"),
    ("长期打肉毒素有什么副作用？", "botox-long-term-side-effects.txt"),
    ("瘦脸针打多了脸颊凹陷、皮肤松弛还能恢复吗", "botox-sunken-cheeks-sagging-skin.txt"),
    ("打完瘦脸针一边脸大一边脸小怎么办", "botox-uneven-face-after-injection.txt"),
    ("Can massage help facial nerve palsy?", "facial-palsy-massage-en.txt"),
]

OFF_TOPIC = [
    "红烧肉怎么做才好吃？",
    "明天北京天气怎么样",
    "推荐一部好看的电影",
    "How do I bake sourdough bread?",
]


@pytest.mark.parametrize("question,article", ON_TOPIC)
def test_answered_from_the_right_article(pipeline, question, article):
    answer = pipeline.answer(question)
    assert not answer.refused
    assert answer.passages[0].hit.article == article
    assert answer.hits[0].article == article
    assert answer.passages[0].hit.title in answer.text
    assert answer.passages[0].excerpt in answer.text


def test_palsy_recovery_answer_quotes_the_recovery_time(pipeline):
    answer = pipeline.answer("打瘦脸针后面瘫多久能恢复？")
    assert "3个月内完全恢复" in answer.text
    assert "https://www.jiaozhiliu.org.cn/show-181930.html" in answer.text


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_is_refused_not_quoted(pipeline, question):
    answer = pipeline.answer(question)
    assert answer.refused
    assert answer.passages == []
    lang = "en" if question.isascii() else "zh"
    assert NOT_COVERED[lang] in answer.text


@pytest.mark.parametrize("question", [q for q, _ in ON_TOPIC] + OFF_TOPIC + ["", "   ", "🙂🙂", "\x00\x07", "面瘫" * 2000])
def test_every_reply_ends_with_the_disclaimer_in_the_questions_language(pipeline, question):
    answer = pipeline.answer(question)
    lang = "en" if question.isascii() and any(c.isalpha() for c in question) else "zh"
    assert answer.text.endswith(DISCLAIMER[lang])


def test_odd_input_gets_a_polite_reply(pipeline):
    empty = pipeline.answer("  \u200b ")
    assert empty.empty and empty.refused and "请" in empty.text

    long = pipeline.answer("打瘦脸针后面瘫多久能恢复？" + "我很担心。" * 400)
    assert long.note and "1000" in long.note
    assert long.text.startswith(long.note)
    assert not long.refused


def test_replies_are_short_enough_for_a_phone(pipeline):
    for question, _ in ON_TOPIC:
        assert len(pipeline.answer(question).text) < 1200
