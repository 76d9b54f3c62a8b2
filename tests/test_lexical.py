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
