"""Red flags: emergencies are escalated first, ordinary questions are not, and
personal-advice requests get the caveat. The phrasings live in tests/data/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.service import Service
from presentation.plain import render_text
from presentation.texts import DISCLAIMER
from retrieval.safety import RedFlags, RulesError, normalise

DATA = Path(__file__).parent / "data"
RED = [json.loads(line) for line in (DATA / "redflags.jsonl").read_text("utf-8").splitlines() if line.strip()]
ORDINARY = [json.loads(line) for line in (DATA / "ordinary.jsonl").read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def rules() -> RedFlags:
    return RedFlags.load()


def test_the_sets_are_big_enough_and_bilingual():
    assert len(RED) >= 40 and len(ORDINARY) >= 100
    assert sum(m["message"].isascii() for m in RED) >= 10
    assert sum(not m["message"].isascii() for m in RED) >= 10


def test_red_flags_are_escalated_and_ordinary_questions_are_not(rules):
    escalated = [m for m in RED if rules.assess(m["message"]).emergency]
    false_alarms = [m for m in ORDINARY if rules.assess(m["message"]).emergency]
    detection = len(escalated) / len(RED)
    false_rate = len(false_alarms) / len(ORDINARY)
    print(f"\nred flags escalated: {len(escalated)}/{len(RED)} = {detection:.1%}; "
          f"ordinary falsely escalated: {len(false_alarms)}/{len(ORDINARY)} = {false_rate:.1%}")  # fmt: skip
    assert detection >= 0.95
    assert false_rate <= 0.05


def test_categories_are_the_expected_ones(rules):
    # breathing trouble after an injection may be reported as toxin spread or as trouble breathing:
    # both notices say to get emergency help now
    near = {("anaphylaxis", "botox_spread"), ("anaphylaxis", "breathing"), ("anaphylaxis", "chest_pain")}
    wrong = [(m["message"], got) for m in RED if (got := rules.assess(m["message"]).emergency) != m["category"] and (m["category"], got) not in near]
    assert not wrong, wrong


@pytest.mark.parametrize(
    "message",
    ["没有呼吸困难，只是脸有点肿", "I have no chest pain, just a sore jaw", "我没有胸痛", "She is not unconscious, just tired"],
)
def test_negations_do_not_escalate(rules, message):
    assert rules.assess(message).emergency is None


def test_question_forms_are_not_negations(rules):
    assert rules.assess("我妈是不是中风了？").emergency == "stroke"
    assert rules.assess("有没有可能是心梗").emergency == "chest_pain"


def test_normalisation_handles_width_case_and_spacing():
    assert normalise("ＣＨＥＳＴ  Pain!!") == " chest pain "
    assert normalise("胸 口 痛") == " 胸口痛 "


@pytest.mark.parametrize("message", ["我该打多少单位瘦脸针", "给我开点药吧", "我这是不是面瘫", "How many units should I get?", "Do I have Bell's palsy?"])
def test_personal_advice_requests_are_flagged(rules, message):
    assert rules.assess(message).advice


def test_rules_are_data_an_operator_can_edit(tmp_path):
    custom = tmp_path / "rules.toml"
    custom.write_text(
        '[numbers]\nzh_emergency = "112"\nen_emergency = "112"\n'
        '[emergency.burn]\nzh_notice = "请拨打 {zh_emergency}"\nen_notice = "Call {en_emergency}"\nphrases = ["烧伤 + 大面积|严重", "severe burn"]\n'
    )
    rules = RedFlags.load(custom)
    found = rules.assess("手臂大面积烧伤")
    assert found.emergency == "burn" and found.notices["zh"] == "请拨打 112"
    assert rules.assess("手臂有点烧伤").emergency is None
    broken = tmp_path / "broken.toml"
    broken.write_text("[emergency.x]\nphrases = [")
    with pytest.raises(RulesError):
        RedFlags.load(broken)


def test_emergency_replies_put_the_instruction_first(pipeline):
    zh = pipeline.answer("打完瘦脸针喉咙发紧，喘不上气")
    assert zh.emergency == "anaphylaxis"
    assert render_text(zh).startswith("⚠️") and "120" in render_text(zh).split("\n")[0]
    assert render_text(zh).endswith(DISCLAIMER["zh"])

    en = pipeline.answer("My dad's face is suddenly drooping on one side and his speech is slurred")
    assert en.emergency == "stroke" and en.lang == "en"
    assert render_text(en).startswith("⚠️ Sudden drooping") and render_text(en).endswith(DISCLAIMER["en"])

    # the instruction is the whole answer: no quote after it, not even one on the topic ("most recover
    # within weeks" would tell someone with a toxin's spread to wait); what was retrieved is kept for the log
    palsy = pipeline.answer("打瘦脸针后突然面瘫了，说话也不清楚，多久能恢复？")
    assert palsy.emergency == "botox_spread"  # slurred speech after a toxin injection: the spread notice
    assert palsy.refused and palsy.passages == [] and palsy.hits
    assert render_text(palsy) == f"{palsy.safety.notices['zh']}\n\n{DISCLAIMER['zh']}"


def test_a_conversation_can_describe_an_emergency_that_neither_message_does_alone(pipeline):
    symptoms = "眼皮也有点耷拉 看东西有重影"
    assert pipeline.answer(symptoms).emergency is None  # no injection named: eyelids and double vision alone
    after = pipeline.answer(symptoms, context="我昨天刚打的瘦脸针")
    assert after.emergency == "botox_spread" and after.refused and after.passages == []
    assert render_text(after).startswith("⚠️")
    # a question about a side effect, asked after one about the injection, is no emergency
    assert pipeline.answer("说话会不会不清楚", context="打瘦脸针会导致面瘫吗").emergency is None
    assert pipeline.answer("谢谢", context="我昨天刚打的瘦脸针 今天眼皮耷拉 看东西重影").emergency is None


def test_a_follow_up_of_an_emergency_gets_its_notice_again_and_a_new_topic_does_not(pipeline):
    """After the notice, "how long until it wears off" or "躺一下应该没事吧" must not be answered with
    quotes that reassure (耐心等待, 1-2周内): the notice again, and nothing quoted."""
    swallowing = "我三天前打了瘦脸针 今天喝水老是呛到 咽东西也费劲 这正常吗"
    eyelids = "had botox for my jawline on monday. since yesterday my eyelids are drooping and im seeing double"
    assert pipeline.answer(swallowing).emergency == "botox_spread" and pipeline.answer(eyelids).emergency == "botox_spread"
    for message, context in [("我在家躺一下应该没事吧", swallowing), ("那要多久能恢复", swallowing),
                             ("ok but how long until it wears off", eyelids)]:  # fmt: skip
        assert pipeline.answer(message).emergency is None, message  # alone, no emergency
        again = pipeline.answer(message, context=context)
        assert again.emergency == "botox_spread" and again.refused and again.passages == [], message
        assert render_text(again).startswith("⚠️"), message
    # a new topic, or thanks, after it is answered as usual
    assert pipeline.answer("红烧肉怎么做", context=swallowing).emergency is None
    assert pipeline.answer("谢谢", context=swallowing).emergency is None


def test_an_emergency_two_messages_told_together_is_repeated_for_their_follow_ups(pipeline):
    """The injection in one message, the symptoms in the next: the notice, and again for what
    follows ("躺一下应该没事吧", "how long until it wears off"), as in a Telegram chat or `chat`;
    a new topic after it starts afresh (found by a walkthrough: the follow-ups were refused)."""
    service = Service(pipeline)
    said = [service.answer(m, channel="test", conversation="c").answer
            for m in ["我昨天刚打的瘦脸针", "眼皮也有点耷拉 看东西有重影", "我在家躺一下应该没事吧", "ok but how long until it wears off"]]  # fmt: skip
    assert [a.emergency for a in said] == [None, "botox_spread", "botox_spread", "botox_spread"]
    assert all(a.refused and a.passages == [] and render_text(a).startswith("⚠️") for a in said[1:])
    assert pipeline.answer("我在家躺一下应该没事吧", context=said[1].searched).emergency is None  # each message alone tells none
    assert service.answer("红烧肉怎么做", channel="test", conversation="c").answer.emergency is None


def test_personal_advice_gets_the_caveat_after_the_articles(pipeline):
    answer = pipeline.answer("我这是不是面瘫？打完瘦脸针一边脸动不了")
    assert answer.safety.advice and "不能给出针对个人的诊断" in render_text(answer)
    assert render_text(answer).index("不能给出") < render_text(answer).index(DISCLAIMER["zh"])
    assert not answer.emergency
