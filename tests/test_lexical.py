"""Lexical search: tokens, BM25 ranking, and term coverage read from the postings."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.text import tokenize
from retrieval.lexical import LexicalIndex, _idf

TEXTS = [
    "打瘦脸针后出现面瘫，一般3个月内可以恢复。",
    "长期注射肉毒素可能出现肌肉萎缩、抗体产生等副作用。",
    "Facial nerve palsy massage can help the muscles recover.",
    "瘦脸针注射过量会导致脸颊凹陷，皮肤松弛。",
    "高血压患者应低盐饮食，按时服药。",
]


def test_tokens_are_chinese_bigrams_english_words_and_numbers():
    assert tokenize("瘦脸针") == ["瘦脸", "脸针"]
    assert tokenize("针") == ["针"]
    assert tokenize("What is a Botox? 12个月") == ["is", "botox", "12", "个月"]  # stop words and single letters dropped


@pytest.fixture(params=["built", "loaded"])
def lexical(request, tmp_path) -> LexicalIndex:
    index = LexicalIndex.build(TEXTS)
    if request.param == "built":
        return index
    index.save(tmp_path / "bm25")
    return LexicalIndex.load(tmp_path / "bm25")  # memory-mapped, as the bot uses it


def test_bm25_ranks_the_passage_with_the_rare_terms_first(lexical):
    ranking = lexical.search("瘦脸针会导致脸颊凹陷吗", 3)
    assert ranking[0][0] == 4  # row ids are positions + 1
    assert [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True)
    assert lexical.search("facial palsy massage", 5)[0][0] == 3
    assert lexical.search("量子计算机", 5) == []  # no term in common: nothing, not noise


def reference_coverage(lexical: LexicalIndex, question: str, text: str) -> float:
    """The definition: IDF-weighted share of the question's distinct terms found in the text."""
    terms = set(tokenize(question))
    weights = {t: lexical.idf.get(t, _idf(lexical.num_docs, 0)) for t in terms}
    return sum(weights[t] for t in terms & set(tokenize(text))) / sum(weights.values())


@pytest.mark.parametrize("question", ["打瘦脸针面瘫多久恢复", "肉毒素的副作用有哪些", "Can massage help facial palsy?", "红烧肉的做法"])
def test_coverage_from_the_postings_matches_its_definition(lexical, question):
    coverage = lexical.coverage(question)
    assert coverage.shape == (len(TEXTS),)
    for position, text in enumerate(TEXTS):
        assert coverage[position] == pytest.approx(reference_coverage(lexical, question, text), abs=1e-6)


def test_coverage_counts_terms_the_corpus_never_uses_against_the_passage(lexical):
    on_topic = lexical.coverage("脸颊凹陷")[3]
    padded = lexical.coverage("脸颊凹陷红烧肉做法")[3]
    assert on_topic == pytest.approx(1.0) and 0 < padded < 0.7
    assert not lexical.coverage("？！").any()  # no terms at all: no coverage, no error


LANGS = ["zh", "zh", "en", "zh", "zh"]


@pytest.fixture(params=["built", "loaded"])
def bilingual(request, tmp_path) -> LexicalIndex:
    """TEXTS with their languages: a bridge (real CC-CEDICT) is built for the two of them."""
    index = LexicalIndex.build(TEXTS + ["Botox 注射后的护理。"], LANGS + ["zh"])
    if request.param == "built":
        return index
    index.save(tmp_path / "bm25")
    return LexicalIndex.load(tmp_path / "bm25")


def test_a_question_is_matched_word_for_word_in_its_own_language_only(bilingual):
    # the Chinese passage that writes "Botox" in Latin letters is not an English match
    assert [row for row, _ in bilingual.search("botox massage", 5, "en")] == [3]
    assert all(row != 3 for row, _ in bilingual.search("面瘫 massage", 5, "zh"))


def test_the_bridge_carries_a_question_into_the_other_language(bilingual):
    # English words reach the Chinese passages through the dictionary, and back
    assert bilingual.search_bridged("What are the side effects of long-term use?", 5, "en")[0][0] == 2
    assert bilingual.search_bridged("面瘫可以按摩吗", 5, "zh")[0][0] == 3
    assert bilingual.search_bridged("quantum computer", 5, "en") == []


def test_coverage_across_languages_is_the_share_of_the_question_a_translation_holds(bilingual):
    coverage = bilingual.coverage("side effects of long-term injections", "en")
    assert coverage[1] > 0.5  # 副作用, 长期, 注射 all in the passage on long-term side effects
    assert coverage[4] == 0.0  # the blood-pressure passage holds none of them
    assert 0 < coverage[5] < coverage[1]  # the care passage holds 注射 only (and Botox is not in the question)
    off = bilingual.coverage("capital city of France", "en")
    assert off.max() < 0.2


def test_function_words_and_words_the_dictionary_lacks_are_not_carried_over(bilingual):
    # "botox" as written matched only the passage writing it in Latin letters; "while" and
    # "over" reached 一边 and 咀嚼
    groups = dict(bilingual.bridge.groups("botox while over the long term side effects", "en"))
    assert {"botox", "while", "over"}.isdisjoint(groups) and "side effects" in groups
    assert bilingual.coverage("botox", "en")[5] == 0.0
    assert bilingual.coverage("botox injection", "en")[5] > 0.0  # 注射 is a translation


def test_how_long_and_how_often_are_question_words_not_carried_over(bilingual):
    # "how long" asks for a duration (as 多久 does): carried over as "long" it reached 长期 and
    # ranked the long-term side effects passage first for any "how long ..." question
    assert "long term" in dict(bilingual.bridge.groups("long-term side effects", "en"))
    for question in ("How long do the side effects last?", "how  often can I get it", "HOW LONG until it works"):
        groups = dict(bilingual.bridge.groups(question, "en"))
        assert not {"long", "long term", "often"} & set(groups), groups
    assert bilingual.coverage("how long do side effects last", "en")[1] < bilingual.coverage("long-term side effects", "en")[1]


def test_chinese_function_words_are_not_carried_to_english_modal_words():
    # 可以 -> "possible, able", 不能 -> "must", 不管 -> "matter": words of any English passage, no topic
    english = "It is possible that you are able to massage, no matter what; you must not press hard."
    index = LexicalIndex.build(["打瘦脸针后可以按摩吗，不能用力，不管多久。如果肿了，由于注射，这种情况良好。", english], ["zh", "en"])
    groups = dict(index.bridge.groups("打瘦脸针后可以按摩吗 不能用力 不管多久", "zh"))
    assert "按摩" in groups and not {"可以", "不能", "不管"} & set(groups), groups
    assert index.coverage("可以吗 不能 不管", "zh")[1] == 0.0
    # whether a short message knows any word still counts them (it decides a follow-up's reading)
    assert index.knows_any_term("可以热敷吗", "zh") and not index.knows_any_term("红烧肉怎么做", "zh")
    # and back: "in case" is 如果, "good" 可以, "thanks" 由于 in the dictionary; none says what is asked
    groups = dict(index.bridge.groups("In case it is good, can I massage? Thanks", "en"))
    assert groups["massage"] == ["按摩"] and not {"如果", "可以", "由于"} & {w for ws in groups.values() for w in ws}, groups


def test_one_language_corpus_gets_no_bridge_and_old_indexes_still_load(tmp_path):
    chinese = LexicalIndex.build([t for t, lang in zip(TEXTS, LANGS) if lang == "zh"], ["zh"] * 4)
    assert not chinese.bridge.en_zh and not chinese.bridge.zh_en
    old = LexicalIndex.build(TEXTS)  # no languages: every passage is matched, as before
    old.save(tmp_path / "bm25")
    (tmp_path / "bm25" / "bridge.json").unlink()
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded.search("facial palsy massage", 5, "en")[0][0] == 3
    assert loaded.search_bridged("side effects", 5, "en") == []


def test_a_lexical_list_counts_in_the_fusion_as_much_as_its_first_passage_covers():
    import numpy as np

    from retrieval.stages import fuse, lexical_weights

    coverage = np.array([0.8, 0.1, 0.2, 0.0], dtype=np.float32)
    own, bridged = [(1, 9.0), (2, 3.0)], [(3, 2.0)]
    weights = lexical_weights([own, bridged], coverage)
    assert weights == pytest.approx([1.0, 0.25])
    dense = [(3, 0.2), (1, 0.19)]
    # passage 3 is first in two lists, but the bridged one holds a quarter of what the other does
    assert fuse([dense, own, bridged], None, [1.0, *weights])[0][0] == 1
    assert lexical_weights([[], []], coverage) == [1.0, 1.0]


EXAMPLE_GLOSSARY = Path(__file__).parent.parent / "examples" / "glossary_zh_en.tsv"


def test_a_missing_or_damaged_dictionary_or_bridge_file_means_no_bridge(tmp_path, monkeypatch):
    from retrieval.bridge import Bridge

    monkeypatch.delenv("ARTICLEBOT_GLOSSARY", raising=False)
    assert Bridge.build(["副作", "作用"], tmp_path / "absent.txt").en_zh == {}
    # without the dictionary, a glossary still bridges its words
    assert Bridge.build(["副作", "作用", "side"], tmp_path / "absent.txt", [EXAMPLE_GLOSSARY]).en_zh["side effects"] == ["副作用"]
    (tmp_path / "bridge.json").write_text("[1, 2]", "utf-8")
    assert Bridge.load(tmp_path / "bridge.json").groups("side effects", "en") == []  # nothing to carry them over


def test_an_operators_glossary_bridges_the_domain_words_the_dictionary_lacks(monkeypatch):
    """CC-CEDICT has no botox or masseter, and its palsy is 麻痹 only, not the articles' 面瘫;
    a glossary (ARTICLEBOT_GLOSSARY) adds them, for English questions only."""
    from retrieval.bridge import Bridge, dictionary_path, entries

    cedict = {gloss: headword for headword, glosses in entries(dictionary_path()) for gloss in glosses}
    assert "botox" not in cedict and "masseter" not in cedict and cedict["palsy"] != "面瘫"
    vocab = tokenize("长期注射肉毒素的副作用 咬肌 面瘫 打瘦脸针后一边脸大一边脸小") + ["palsy", "facial"]
    monkeypatch.delenv("ARTICLEBOT_GLOSSARY", raising=False)
    plain = Bridge.build(vocab)
    # by default no glossary: words the dictionary lacks are not carried over (not even as written)
    assert {"masseter", "botox"}.isdisjoint(dict(plain.groups("Can masseter botox cause palsy?", "en")))
    monkeypatch.setenv("ARTICLEBOT_GLOSSARY", str(EXAMPLE_GLOSSARY))
    bridge = Bridge.build(vocab)
    groups = dict(bridge.groups("Can botox in the masseter cause palsy?", "en"))
    assert "肉毒素" in groups["botox"] and groups["masseter"] == ["咬肌"] and groups["palsy"] == ["面瘫"]
    # a multi-word translation is a phrase: "uneven face" does not make every "face" mean 一边脸大一边脸小
    assert "一边脸大一边脸小" in bridge.en_zh["uneven face"]
    assert "一边脸大一边脸小" not in bridge.en_zh.get("face", [])
    # Chinese questions reach English passages through CC-CEDICT alone (bridge.py says why):
    # its 面瘫 is "facial paralysis", and the glossary's palsy is not added
    assert bridge.groups("面瘫怎么办", "zh") == plain.groups("面瘫怎么办", "zh") == [("面瘫", ["facial"])]


def test_glossary_terms_the_corpus_lacks_are_left_out_and_a_malformed_one_is_skipped(tmp_path, monkeypatch, caplog):
    from retrieval.bridge import Bridge, glossary_entries

    own = tmp_path / "glossary.tsv"
    own.write_text("# the clinic's words\n咬肌\tjaw muscle; bruxism muscle\n溶脂针\tfat dissolving\n", "utf-8")
    monkeypatch.setenv("ARTICLEBOT_GLOSSARY", str(own))
    bridge = Bridge.build(tokenize("咬肌 面瘫"))
    assert bridge.en_zh["bruxism muscle"] == ["咬肌"] and "fat dissolving" not in bridge.en_zh
    bad = tmp_path / "bad.tsv"
    bad.write_text("咬肌\tmasseter\nmasseter 咬肌\n", "utf-8")
    with pytest.raises(ValueError, match="line 2"):
        glossary_entries(bad)
    monkeypatch.setenv("ARTICLEBOT_GLOSSARY", str(bad))
    bridge = Bridge.build(tokenize("咬肌 面瘫"))  # indexing goes on, with the dictionary alone
    assert "masseter" not in bridge.en_zh and "line 2" in caplog.text
    monkeypatch.setenv("ARTICLEBOT_GLOSSARY", str(tmp_path / "absent.tsv"))
    assert "masseter" not in Bridge.build(tokenize("咬肌")).en_zh and "absent.tsv" in caplog.text


def test_english_words_are_looked_up_in_their_base_forms():
    from retrieval.bridge import lemmas

    assert "recover" in lemmas("recovery") and "repeated" in lemmas("repeatedly") and "injection" in lemmas("injections")
    assert "ear" not in lemmas("early") and lemmas("body") == ["body"]
