"""The refusal gate (retrieval/gate.py): a threshold per question language and for long,
chatty messages, chosen by `articlebot calibrate` (retrieval/calibrate.py)."""

import pytest

from bot.config import Config, ConfigError
from embeddings import model_info
from retrieval import gate
from retrieval.calibrate import Scored, calibrate_gate, evaluate_threshold
from retrieval.passages import choose
from retrieval.records import Hit


@pytest.mark.parametrize(
    "message,count",
    [
        ("打完瘦脸针多久可以化妆", 1),
        ("打瘦脸针疼吗，要不要敷麻药", 2),
        ("我上周打了瘦脸针 现在笑起来嘴巴有点歪 是不是打坏了啊 好担心", 4),  # statements separated by spaces only
        ("我今年28岁，去年打了瘦脸针。结果笑起来嘴角一边高一边低！能恢复吗？", 4),
        ("Can I get botox while pregnant?", 1),
        ("hey so my jaw feels weird, it's been two weeks since botox, is that normal?", 3),
        ("Botox 2 weeks ago. Face feels stiff. Normal?", 3),
        ("   ，。 ", 0),
    ],
)
def test_clauses_of_a_message(message, count):
    assert len(gate.clauses(message)) == count
    assert gate.is_long(message) == (count >= gate.LONG_CLAUSES)


def test_the_threshold_adds_the_language_and_long_offsets():
    offsets = {"en": 0.04, gate.LONG: -0.02}
    short_zh, long_zh = "瘦脸针能维持多久", "我打了瘦脸针，现在两腮凹陷，能恢复吗？"
    assert gate.threshold(0.05, offsets, short_zh, "zh") == pytest.approx(0.05)
    assert gate.threshold(0.05, offsets, long_zh, "zh") == pytest.approx(0.03)
    assert gate.threshold(0.05, offsets, "Can botox spread?", "en") == pytest.approx(0.09)
    assert gate.threshold(0.05, offsets, "I had botox, my eyelid droops, will it recover?", "en") == pytest.approx(0.07)
    assert gate.threshold(0.05, {}, long_zh, "zh") == pytest.approx(0.05)  # no offsets: one threshold, as before


def test_offsets_parse_and_print_back():
    assert gate.parse_offsets("en=0.046,long=-0.024") == {"en": 0.046, "long": -0.024}
    assert gate.parse_offsets(" en=+0.05  long=-0.01 ") == {"en": 0.05, "long": -0.01}
    assert gate.parse_offsets("") == {}
    offsets = {"en": 0.046, "long": -0.024}
    assert gate.parse_offsets(gate.format_offsets(offsets)) == offsets
    for bad in ("en", "en=", "en=abc", "=0.1", "en=nan", "long=inf", "EN/../x=1", "fr=0.1", "lnog=-0.02"):
        with pytest.raises(ValueError):
            gate.parse_offsets(bad)
    with pytest.raises(ValueError, match="'lnog' is not an offset .use zh, en or long."):  # a typo is not taken silently
        gate.parse_offsets("en=0.05,lnog=-0.02")


def test_config_takes_the_models_offsets_unless_told(monkeypatch):
    default = Config.from_env()
    assert default.min_score_offsets == dict(model_info("multilingual-e5-small").min_score_offsets)
    assert default.min_score_offsets["en"] > 0 > default.min_score_offsets[gate.LONG]  # as calibrated
    monkeypatch.setenv("ARTICLEBOT_MIN_SCORE_OFFSETS", "en=0.1")
    assert Config.from_env().min_score_offsets == {"en": 0.1}
    monkeypatch.setenv("ARTICLEBOT_MIN_SCORE_OFFSETS", "english please")
    with pytest.raises(ConfigError, match="ARTICLEBOT_MIN_SCORE_OFFSETS"):
        Config.from_env()
    monkeypatch.setenv("ARTICLEBOT_MIN_SCORE_OFFSETS", "")
    monkeypatch.setenv("ARTICLEBOT_MODEL", "m3e-small")  # a Chinese-only model: one threshold
    assert Config.from_env().min_score_offsets == {}


def _scored(question, best, article):
    return Scored(question, article, [(best, 0.0, article or "a.txt")])


def test_calibrate_gate_finds_each_groups_own_cut():
    """Short Chinese questions separate at 0.05, English ones at 0.10 and long messages at
    0.02: one threshold gets some group wrong; the gate gets every group right."""
    scored = []
    for i in range(6):
        scored.append(_scored(f"瘦脸针问题{i}", 0.07 + i * 0.01, "a.txt"))
        scored.append(_scored(f"无关问题{i}", 0.0 + i * 0.005, None))
        scored.append(_scored(f"botox question {i}", 0.12 + i * 0.01, "a.txt"))
        scored.append(_scored(f"unrelated question {i}", 0.06 + i * 0.005, None))
        scored.append(_scored(f"我打了瘦脸针，现在脸有点问题{i}，能恢复吗？", 0.03 + i * 0.005, "a.txt"))
        scored.append(_scored(f"我最近睡不好，白天很累{i}，怎么办？", -0.02 + i * 0.005, None))
    base, offsets = calibrate_gate(scored, weight=0.0)
    assert 0.025 < gate.cut(base, offsets, "zh") < 0.07
    assert 0.085 < gate.cut(base, offsets, "en") < 0.12
    assert -0.005 < gate.cut(base, offsets, "zh", long=True) < 0.03
    assert set(offsets) == {"zh", "en", gate.LONG}
    gated = evaluate_threshold(scored, 0.0, base, offsets)
    assert gated["refusal_precision"] == gated["refusal_recall"] == gated["on_topic_answered"] == 1.0
    single = max((evaluate_threshold(scored, 0.0, t / 1000) for t in range(-50, 200)), key=lambda r: r["refusal_recall"] + r["on_topic_answered"])
    assert single["refusal_recall"] + single["on_topic_answered"] < 2.0


def test_a_group_too_small_to_tell_gets_no_offset():
    scored = [_scored(f"瘦脸针问题{i}", 0.07 + i * 0.01, "a.txt") for i in range(6)]
    scored += [_scored(f"无关问题{i}", i * 0.005, None) for i in range(6)]
    scored += [_scored("botox question", 0.2, "a.txt"), _scored("unrelated question", 0.15, None)]
    _, offsets = calibrate_gate(scored, weight=0.0)
    assert "en" not in offsets and gate.LONG not in offsets


def test_an_answer_records_the_threshold_it_was_judged_by():
    hit = Hit(chunk_id="c1", article="a.txt", title="A", url=None, heading=None, text="瘦脸针的效果通常维持3到6个月。", score=0.04)
    assert choose("瘦脸针能维持多久", [hit], "zh", 0.05).refused
    answered = choose("瘦脸针能维持多久", [hit], "zh", 0.03)
    assert not answered.refused and answered.threshold == 0.03


def test_only_long_messages_still_give_a_threshold():
    scored = [_scored(f"我打了瘦脸针，现在脸有点问题{i}，能恢复吗？", 0.03 + i * 0.005, "a.txt") for i in range(3)]
    scored += [_scored(f"我最近睡不好，白天很累{i}，怎么办？", -0.02 + i * 0.005, None) for i in range(3)]
    base, offsets = calibrate_gate(scored, weight=0.0)
    assert -0.01 < base < 0.03 and offsets == {}


def test_calibrate_scores_a_message_as_the_bot_searches_it(pipeline):
    """`articlebot calibrate` reads a labelled message as the bot does (pipeline.prepared:
    tidied, its question part when over MAX_QUESTION_CHARS, without asides, a repeated sentence searched once), so
    the threshold it chooses is judged on the scores the bot's answers get."""
    from retrieval.calibrate import score_questions
    from retrieval.pipeline import MAX_QUESTION_CHARS

    messages = [
        "好的谢谢。对了，打瘦脸针会导致面瘫吗",
        "打瘦脸针后多久可以化妆？" * 120,  # over MAX_QUESTION_CHARS, one sentence repeated
        "  瘦脸针\u200b效果能维持多久\n\n姐妹们  ",
    ]
    assert len(messages[1]) > MAX_QUESTION_CHARS
    scored = score_questions(pipeline.searcher, [{"question": m, "article": None} for m in messages], k=pipeline.top_k)
    for message, s in zip(messages, scored):
        answer = pipeline.answer(message)
        assert s.question == answer.searched
        assert s.parts == [(h.dense, h.coverage, h.article) for h in answer.hits]
