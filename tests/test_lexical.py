"""Lexical search: tokens, BM25 ranking, and term coverage read from the postings."""

from __future__ import annotations

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


def test_a_missing_or_damaged_dictionary_or_bridge_file_means_no_bridge(tmp_path):
    from retrieval.bridge import Bridge

    assert Bridge.build(["副作", "作用"], tmp_path / "absent.txt").en_zh == {}
    (tmp_path / "bridge.json").write_text("[1, 2]", "utf-8")
    assert Bridge.load(tmp_path / "bridge.json").groups("side effects", "en") == [("side", ["side"]), ("effects", ["effects"])]
