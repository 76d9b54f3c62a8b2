"""Red flags on real phrasing: the labelled set of emergencies and look-alikes, both
layers, the meaning layer really working, and the fuzzy rules' details."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from retrieval.redflag_eval import evaluate, load
from retrieval.safety import RedFlags, RulesError

DATA = Path(__file__).parent / "data"
LABELLED = DATA / "emergencies.jsonl"
CATEGORIES = {"stroke", "anaphylaxis", "chest_pain", "bleeding", "unconscious", "suicide", "botox_spread", "vascular_occlusion", "infection"}


@pytest.fixture(scope="module")
def rules() -> RedFlags:
    return RedFlags.load()


def test_the_labelled_set_is_big_split_and_covers_every_category():
    items = load(LABELLED)
    emergencies = [i for i in items if i.category]
    ordinary = [i for i in items if not i.category]
    assert len(emergencies) >= 200 and len(ordinary) >= 200
    assert {i.category for i in emergencies} == CATEGORIES
    for group in (emergencies, ordinary):
        assert Counter(i.tags[0] for i in group).keys() == {"zh", "en"}
        splits = Counter(i.split for i in group)
        assert splits.keys() == {"tune", "held-out"} and min(splits.values()) >= 0.4 * len(group)
    assert {i.kind for i in ordinary} >= {"history", "question", "negation", "mild", "figure", "article", "past"}


def test_held_out_recall_and_false_alarms_with_both_layers(red_flags):
    """Measured on the half nothing was tuned on (figures in the README); floors just below them."""
    result = evaluate(red_flags, load(LABELLED, "held-out"))
    both, rules_alone = result["both"], result["rules"]
    print(f"\nheld-out: rules R {rules_alone['recall']['share']} FA {rules_alone['false_alarms']['share']}; "
          f"both R {both['recall']['share']} FA {both['false_alarms']['share']}")  # fmt: skip
    # 0.985 measured (README; 0.970 before probes 15 to 17); the meaning layer's part depends a
    # little on the machine (0.849 alone on one, 0.833 on the next)
    assert both["recall"]["share"] >= 0.97
    assert both["false_alarms"]["share"] <= 0.03  # 0.030 (4 of 135) measured
    assert both["recall"]["share"] > rules_alone["recall"]["share"]  # the meaning layer adds what rules miss
    assert all(cell["share"] >= 0.7 for cell in both["per_category"].values()), both["per_category"]
    # recall by the way the emergency is written (the file's tags): typos, rambling, a family member's
    assert {"zh", "en", "typo", "rambling", "family"} <= set(both["per_tag"]), both["per_tag"]
    assert both["per_tag"]["zh"]["of"] + both["per_tag"]["en"]["of"] == both["recall"]["of"]


def test_the_probes_written_later_keep_their_figures(red_flags):
    """tests/data/redflags_probe.jsonl: seventeen sets written after the labelled set, by writers who
    saw neither it nor the rules, to find weak spots; what they found was fixed, so they are
    tuning data now and guard against losing those fixes (figures in the README)."""
    items = load(DATA / "redflags_probe.jsonl")
    assert Counter(i.split for i in items) == {"probe": 70, "probe2": 260, "probe3": 200, "probe4": 160, "probe5": 150,
                                               "probe6": 160, "probe7": 140, "probe8": 160, "probe9": 150,
                                               "probe10": 160, "probe11": 150, "probe12": 200, "probe13": 240,
                                               "probe14": 160, "probe15": 160, "probe16": 160, "probe17": 160}  # fmt: skip
    first = [i for i in items if i.split not in ("probe10", "probe11", "probe12", "probe13", "probe14", "probe15", "probe16", "probe17")]
    both = evaluate(red_flags, first)["both"]
    # 0.991 / 0.031 measured: words that fixed a probe line but would misread everyday messages
    # (交代完, 不用担心我了, "apart from", 不一样) were taken out again; unchanged after probe14
    assert both["recall"]["share"] >= 0.98 and both["false_alarms"]["share"] <= 0.04, both
    # probes 10 and 11 (lay words, stories, venting, a past told at length): 0.994 / 0.181 measured
    # (0.994 / 0.168 after probe14);
    # their look-alikes are the known weak spot (README), so their floor guards recall and the fixes made
    latest = evaluate(red_flags, [i for i in items if i.split in ("probe10", "probe11")])["both"]
    assert latest["recall"]["share"] >= 0.98 and latest["false_alarms"]["share"] <= 0.2, latest
    # probe12 (the same signs named in many other words): 1.000 / 0.033 measured
    words = evaluate(red_flags, [i for i in items if i.split == "probe12"])["both"]
    assert words["recall"]["share"] >= 0.98 and words["false_alarms"]["share"] <= 0.05, words
    # probe13 (bleeding, collapse, suicide and occlusion told indirectly, in Chinese, English and
    # a mix of both; look-alikes of every kind): 1.000 / 0.117 measured (0.108 after probe14, 0.100
    # after probes 15 and 16)
    mixed = evaluate(red_flags, [i for i in items if i.split == "probe13"])["both"]
    assert mixed["recall"]["share"] >= 0.98 and mixed["false_alarms"]["share"] <= 0.15, mixed
    # probe14 (every category, Cantonese and mixed writing, farewells and means at hand; stories,
    # resolved events, everyday uses of the same words): 1.000 / 0.125 measured (0.963 / 0.175 on
    # arrival); the rules alone 1.000 / 0.037
    latest = evaluate(red_flags, [i for i in items if i.split == "probe14"])
    assert latest["both"]["recall"]["share"] >= 0.98 and latest["both"]["false_alarms"]["share"] <= 0.15, latest["both"]
    assert latest["rules"]["recall"]["share"] >= 0.95 and latest["rules"]["false_alarms"]["share"] <= 0.05, latest["rules"]
    # probes 15 and 16 (every category; pinyin, Cantonese, a clinic writing for a client; events
    # that are over, hearsay, what someone read): on arrival 0.975 / 0.062 and 0.963 / 0.062 (the
    # rules alone 0.925 / 0.050 and 0.912 / 0.050); now 0.988 / 0.025 and 1.000 / 0.025, the rules
    # alone 0.988 / 0.013 and 1.000 / 0.013 (the miss left is written in pinyin)
    for split in ("probe15", "probe16"):
        latest = evaluate(red_flags, [i for i in items if i.split == split])
        assert latest["both"]["recall"]["share"] >= 0.98 and latest["both"]["false_alarms"]["share"] <= 0.05, latest["both"]
        assert latest["rules"]["recall"]["share"] >= 0.95 and latest["rules"]["false_alarms"]["share"] <= 0.05, latest["rules"]
    # probe17 (stroke, bleeding, collapse and suicide, 24 each, in lay words, dialect, mixed writing;
    # resolved events, fiction, venting): on arrival 0.948 / 0.172 (rules alone 0.833 / 0.078); now
    # 1.000 / 0.125, the rules alone 1.000 / 0.062 (what is left is mostly the meaning layer's)
    latest = evaluate(red_flags, [i for i in items if i.split == "probe17"])
    assert latest["both"]["recall"]["share"] >= 0.98 and latest["both"]["false_alarms"]["share"] <= 0.15, latest["both"]
    assert latest["rules"]["recall"]["share"] >= 0.95 and latest["rules"]["false_alarms"]["share"] <= 0.08, latest["rules"]


def test_bundled_questions_stay_unflagged(red_flags):
    ordinary = [json.loads(line)["message"] for line in (DATA / "ordinary.jsonl").read_text("utf-8").splitlines() if line.strip()]
    assert [m for m in ordinary if red_flags.assess(m).emergency] == []
    answers = [json.loads(line) for line in (DATA / "answers.jsonl").read_text("utf-8").splitlines() if line.strip()]
    questions = [t for a in answers if not a.get("emergency") for t in a["turns"]]
    flagged = [q for q in questions if red_flags.assess(q).emergency]
    assert not [q for q in flagged if red_flags.by_rules(q)]  # the rules flag none of them
    assert len(flagged) <= 0.01 * len(questions), flagged  # the meaning layer: 2 of 403 (see the README)


def test_the_meaning_layer_flags_what_no_rule_matches(red_flags, rules):
    message = "my life feels pointless and I keep thinking everyone would be fine if I just was not here"
    assert rules.by_rules(message) is None and red_flags.by_rules(message) is None
    assert red_flags.assess(message).emergency == "suicide" and red_flags.assess(message).by == "meaning"
    assert rules.assess(message).emergency is None  # the same rules without the layer: not flagged


def test_meaning_layer_can_be_switched_off_and_the_rules_measured_alone(monkeypatch):
    from click.testing import CliRunner

    from bot.cli import main
    from bot.config import Config, ConfigError
    from bot.service import open_red_flags

    monkeypatch.setenv("ARTICLEBOT_REDFLAG_MEANING", "0")
    assert open_red_flags(Config.from_env()).meaning is None
    result = CliRunner().invoke(main, ["eval-redflags", str(LABELLED), "--split", "tune", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert "meaning" not in figures and figures["rules"]["recall"]["of"] >= 100
    monkeypatch.setenv("ARTICLEBOT_REDFLAG_MEANING", "perhaps")
    with pytest.raises(ConfigError):
        Config.from_env()


def test_the_table_prints_for_a_file_of_emergencies_only_or_of_ordinary_messages_only(tmp_path, monkeypatch):
    """A file with nothing to count on one side (no ordinary message: no false alarm can occur)
    prints "-" for that share instead of failing."""
    from click.testing import CliRunner

    from bot.cli import main

    monkeypatch.setenv("ARTICLEBOT_REDFLAG_MEANING", "0")
    for name, lines, shown in [("emergencies", ['{"message": "我爸突然嘴歪了，说话含糊不清", "category": "stroke"}'], "false alarms - (0/0)"),
                               ("ordinary", ['{"message": "瘦脸针多久打一次", "category": null}'], "recall - (0/0)")]:  # fmt: skip
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(lines) + "\n", "utf-8")
        result = CliRunner().invoke(main, ["eval-redflags", str(path), "--no-meaning"])
        assert result.exit_code == 0, result.output
        assert shown in result.output, result.output


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("胸口剧痛，一直出冷汗", "chest_pain"),  # parts a few characters apart
        ("胸口一阵阵地痛", "chest_pain"),
        ("心口像被石头压着，左胳膊也疼", "chest_pain"),
        ("打完针十分钟浑身起疹子，嘴唇也肿起来了，有点喘", "anaphylaxis"),
        ("打完针以后吞咽困难 说话也说不清楚 眼皮也抬不起来", "botox_spread"),
        ("打完瘦臉針之後喝水一直嗆到，講話也講不清楚", "botox_spread"),  # traditional characters
        ("瘦脸针打完吞烟困难", "botox_spread"),  # a homophone typo
        ("刚打完鼻子玻尿酸，鼻头发白了，而且疼得厉害", "vascular_occlusion"),
        ("lip filler 2 hours ago and my upper lip is turning blue", "vascular_occlusion"),
        ("打完针的地方又红又肿还发烧38度5", "infection"),
        ("I feel like ending it all", "suicide"),
        ("活着没意思，想一了百了", "suicide"),
        ("my dad is having a strok, his face is drooping and he cant lift his arm", "stroke"),  # typo, contraction
        ("以前中过风，现在突然说话不清楚", "stroke"),  # history, then now
    ],
)
def test_rules_tolerate_real_phrasing(rules, message, category):
    assert rules.by_rules(message) == category


@pytest.mark.parametrize(
    "message",
    [
        "Can someone who had a stroke years ago get botox?",
        "我妈以前中过风，她能打瘦脸针吗",
        "笑死我了",
        "胸口不痛，就是有点闷",  # a negation inside the window
        "嘴唇有点肿，打的玻尿酸",  # softened: an expected mild effect
        "打瘦脸针会不会吞咽困难",  # a general question
        "can botox cause trouble swallowing?",
        "I'm dying to try lip filler",
        "I was cooking when the clinic called about my botox",  # "cooking" is a word, not a typo of "choking"
    ],
)
def test_history_questions_negations_and_figures_are_not_emergencies(rules, message):
    assert rules.by_rules(message) is None


def test_a_window_may_not_be_mixed_into_alternatives(tmp_path):
    bad = tmp_path / "rules.toml"
    bad.write_text('[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["胸口 ~ 痛 ~ 疼"]\n', "utf-8")
    with pytest.raises(RulesError, match="two"):
        RedFlags.load(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["@nothing + 痛"]\n', "utf-8")
    with pytest.raises(RulesError, match="@nothing"):
        RedFlags.load(unknown)


def test_over_when_resolved_is_a_yes_or_no(tmp_path):
    rules = tmp_path / "rules.toml"
    body = '[context]\nresolved = ["现在没事了"]\n[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["晕倒"]\n'
    rules.write_text(body + 'over_when_resolved = "yes"\n', "utf-8")
    with pytest.raises(RulesError, match="over_when_resolved"):
        RedFlags.load(rules)
    for over, found in (("true", None), ("false", "x")):
        rules.write_text(body + f"over_when_resolved = {over}\n", "utf-8")
        assert RedFlags.load(rules).by_rules("他晕倒了 现在没事了") == found


def test_a_named_part_is_written_once_and_used_by_name(tmp_path):
    rules = tmp_path / "rules.toml"
    head = '[words]\nsite = "泪沟|下巴"\n[parts]\nthere = "打|填 ~ @site / 玻尿酸"\n'
    rules.write_text(head + '[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["$there + 发白"]\n', "utf-8")
    loaded = RedFlags.load(rules)
    assert [loaded.by_rules(m) for m in ("打完泪沟 发白了", "玻尿酸 发白了", "泪沟 发白了")] == ["x", "x", None]
    rules.write_text(head + '[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["$nowhere + 发白"]\n', "utf-8")
    with pytest.raises(RulesError, match=r"\$nowhere"):
        RedFlags.load(rules)
    rules.write_text('[parts]\nthere = "玻尿酸 + 发白"\n[emergency.x]\nzh_notice = "a"\nen_notice = "b"\nphrases = ["$there"]\n', "utf-8")
    with pytest.raises(RulesError, match="there"):
        RedFlags.load(rules)
