"""End to end with the real m3e-small model, real FAISS and SQLite over the bundled corpus."""

from __future__ import annotations

import pytest

from presentation.plain import render_text
from presentation.texts import DISCLAIMER, NOT_COVERED, TRUNCATED_NOTE

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
    assert answer.passages[0].hit.title in render_text(answer)
    assert answer.passages[0].excerpt in render_text(answer)


def test_palsy_recovery_answer_quotes_the_recovery_time(pipeline):
    answer = pipeline.answer("打瘦脸针后面瘫多久能恢复？")
    assert "3个月内完全恢复" in render_text(answer)
    assert "https://www.jiaozhiliu.org.cn/show-181930.html" in render_text(answer)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_is_refused_not_quoted(pipeline, question):
    answer = pipeline.answer(question)
    assert answer.refused
    assert answer.passages == []
    lang = "en" if question.isascii() else "zh"
    assert NOT_COVERED[lang] in render_text(answer)


@pytest.mark.parametrize("question", [q for q, _ in ON_TOPIC] + OFF_TOPIC + ["", "   ", "🙂🙂", "\x00\x07", "面瘫" * 2000])
def test_every_reply_ends_with_the_disclaimer_in_the_questions_language(pipeline, question):
    answer = pipeline.answer(question)
    lang = "en" if question.isascii() and any(c.isalpha() for c in question) else "zh"
    assert render_text(answer).endswith(DISCLAIMER[lang])


def test_odd_input_gets_a_polite_reply(pipeline):
    empty = pipeline.answer("  \u200b ")
    assert empty.empty and empty.refused and "请" in render_text(empty)

    long = pipeline.answer("打瘦脸针后面瘫多久能恢复？" + "我很担心。" * 400)
    note = TRUNCATED_NOTE[long.lang].format(n=long.truncated_at)
    assert long.truncated_at and "1000" in note
    assert render_text(long).startswith(note)
    assert not long.refused


def test_replies_are_short_enough_for_a_phone(pipeline):
    for question, _ in ON_TOPIC:
        assert len(render_text(pipeline.answer(question))) < 1200


def test_refusal_threshold_is_calibrated_on_labelled_questions(pipeline):
    """The configured threshold on tests/data/calibration.jsonl (55 on-topic, 55 off-topic)."""
    from pathlib import Path

    from common.jsonl import read_jsonl
    from retrieval.calibrate import evaluate_threshold, score_questions
    from retrieval.stages import COVERAGE_WEIGHT

    labelled = read_jsonl(Path(__file__).parent / "data" / "calibration.jsonl")
    assert sum(1 for q in labelled if q["article"]) >= 50 and sum(1 for q in labelled if not q["article"]) >= 50
    figures = evaluate_threshold(score_questions(pipeline.searcher, labelled), COVERAGE_WEIGHT, pipeline.min_score)
    assert figures["refusal_precision"] >= 0.95
    assert figures["refusal_recall"] >= 0.95
    assert figures["on_topic_answered"] >= 0.95
    assert figures["on_topic_right_article"] >= 0.75


@pytest.mark.parametrize(
    "question",
    ["Can massage help facial nerve palsy?", "Is massage therapy effective for facial paralysis?", "What causes facial nerve palsy?"],
)
def test_english_questions_are_answered_from_the_english_article(pipeline, question):
    answer = pipeline.answer(question)
    assert not answer.refused
    assert answer.passages[0].hit.article == "facial-palsy-massage-en.txt"
    assert answer.lang == "en"


def test_no_reply_quotes_near_identical_passages_or_three_from_one_article(pipeline):
    from common.text import near_duplicate, shingles

    for question in ["打完瘦脸针一边脸大一边脸小怎么办", "打瘦脸针后面瘫多久能恢复？"]:
        hits = pipeline.searcher.search(question, 5)
        for i, a in enumerate(hits):
            for b in hits[i + 1 :]:
                assert not near_duplicate(shingles(a.text), shingles(b.text))
        first_three = [h.article for h in hits[:3]]
        assert max(first_three.count(a) for a in first_three) <= 2
