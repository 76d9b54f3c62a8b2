"""The stages of a search, each a function that can be run, replaced or timed on its own.

    dense candidates, one list per model ─┐
                                          ├─ fuse ─ score ─ evidence ─ (re-rank) ─ diversify ─ sentences
    lexical candidates (BM25) ────────────┘

Ranking. The question's vector from each model is searched in that model's FAISS
lists (one per passage language, each cosine taken above the question's
similarity to unrelated text in that language, see languages.py) and the question in BM25; the candidate lists
are fused with reciprocal rank fusion, score(p) = sum over lists of
1/(RRF_K + rank), plus COVERAGE_RANK_WEIGHT times the passage's term coverage
(below), which mostly reorders passages whose fused scores are nearly tied.
Measured on the medqa set, plain RRF with equal weights and k=60 did as well as
any weighting or score-normalised linear fusion we tried; the coverage term raised
MRR@10 from 0.348 to 0.363 (R@10 0.515 to 0.520), and chosen on one half of the
questions it held on the other half.

Relevance ("is this good enough to quote?"). Rank fusion says which passage is
best, not whether it is good enough, so every hit also gets a relevance score:
the primary (first) model's cosine with the question above the background, plus
a weight times the IDF-weighted share of the question's terms that occur in it
(lexical.coverage); the weight, and whether cosines are taken above the language
background (multilingual models), are the primary model's (embeddings.ModelInfo). The threshold on that score is calibrated per model on
labelled questions (tests/data/answers.jsonl, `articlebot calibrate`).

Evidence (the order of the scored candidates). Fusion finds the candidates; it is a
poor judge among a few close ones, and so is a passage's own cosine: a passage that
answers several questions in one sentence each (the long-term side effects article:
atrophy, antibodies, allergy, stiffness, numbness) is close to none of them as a
whole. So the candidates are ordered by their evidence: the passage's cosine above
the background, plus its best sentence's (sentence vectors stored at index time,
above the same background), plus EVIDENCE_COVERAGE times the share of the question's
terms the passage holds and the share its best sentence holds. Sentences that answer
nothing (a question, an introduction: sentences.answers_nothing) do not count: an
introduction restating the question is the closest sentence to it. Whether the
question is answered at all is still decided on relevance (passages.choose). With
several models, each further model's cosine above its background is added too (a model
without a background, m3e-small, only while the candidates are in one language): medqa with
multilingual-e5-small,m3e-small went from R@10 0.490 / MRR@10 0.364 (evidence from e5
alone) to 0.535 / 0.402 (2026-11-24; README, "Search quality").
Measured with `articlebot eval-answers FILE [--split S] [--single-turn]` and
`articlebot eval` (2026-11-23), fused order -> evidence:
- tune half: single-turn lines from the right article 77 -> 83 of 97, all lines
  94 -> 102 of 116; tests/data/answers_probe_en.jsonl 22 -> 25 of 36; refusals unchanged;
- held-out half: single-turn 76 -> 81 of 92, all lines 91 -> 95 of 109;
- medqa: R@10 0.480 -> 0.485, MRR@10 0.377 -> 0.363.
A variant with the second best sentence at half weight and passage coverage at 0.1
(sentences that answer nothing at half value) did the same on the tune half (84, 102)
and the probe (25), medqa 0.490 / 0.366, and worse on the held-out half (77 of 92);
the simpler one is kept.

Re-ranking. Optional: anything with `rerank(question, hits) -> hits` (a
cross-encoder, say) reorders the scored candidates before diversity.

Sentences. Each returned hit's sentences get an answer score (sentences.py: the
question's cosine with sentence vectors stored at index time, plus term coverage),
which chooses the excerpt a reply quotes. "Small to big" (reordering the scored
candidates by fused score plus 0.02 times their best sentence's score) was measured
and dropped: on the tuning half of tests/data/answers.jsonl it raised right-article
answers from 93 to 96 of 116, but on the held-out half it lowered them from 88 to 85
of 109, and on medqa it lowered MRR@10 from 0.376 to 0.358 (R@10 0.485 to 0.480).

Diversity. No two hits with near-identical text, and at most MAX_PER_ARTICLE hits
from one article among the first ones, unless nothing else is relevant.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from common.text import near_duplicate, shingles
from retrieval.index import Index
from retrieval.records import Hit
from retrieval.sentences import answer_scores, answers_nothing, non_answers, units

CANDIDATES = 120  # from each of the dense and lexical searches (medqa: 50 gave R@10 0.500, 120 and 200 both 0.520)
OVERFETCH = 3  # candidates scored per wanted hit, so that dropping repeats still leaves k
RRF_K = 60
COVERAGE_RANK_WEIGHT = 0.01  # term coverage added to the fused score: breaks near-ties in favour of passages with the question's terms
EVIDENCE_COVERAGE = 0.2  # term coverage (the passage's and its best sentence's) in a hit's evidence (by_evidence)
COVERAGE_WEIGHT = 0.5  # the default; a model may set its own (embeddings.ModelInfo.coverage_weight)
DUPLICATE_THRESHOLD = 0.8
MAX_PER_ARTICLE = 2

Ranking = list[tuple[int, float]]  # (chunk row id, score), best first


class Reranker(Protocol):
    """An optional stage that reorders scored hits (e.g. a cross-encoder)."""

    def rerank(self, question: str, hits: list[Hit]) -> list[Hit]:
        """The same hits, best first."""
        ...


def relevance(cosine: float, coverage: float, weight: float = COVERAGE_WEIGHT) -> float:
    """How well a passage answers a question (what the refusal threshold applies to)."""
    return cosine + weight * coverage


def dense_candidates(index: Index, vector: np.ndarray, depth: int, *, slot: int = 0, lang: str = "zh") -> Ranking:
    """The passages nearest to the question's vector in one model's list (FAISS inner
    product above each language's background)."""
    return index.search(vector, depth, slot=slot, lang=lang)


def lexical_candidates(index: Index, question: str, depth: int, lang: str | None = None) -> Ranking:
    """The passages in the question's language that BM25 ranks highest for its terms."""
    return index.lexical.search(question, depth, lang)


def bridged_candidates(index: Index, question: str, depth: int, lang: str) -> Ranking:
    """The passages in the other language that BM25 ranks highest for the question's
    translated terms (bridge.py); empty for a corpus in one language."""
    return index.lexical.search_bridged(question, depth, lang)


def lexical_weights(lexical: list[Ranking], coverage: np.ndarray) -> list[float]:
    """How much each lexical list counts in the fusion: the coverage of the question by its best
    passage, relative to the best list's. The lists of one question are in different languages
    (lexical.py, bridge.py); the one whose best passage holds a few loosely translated words
    must not count as much as the one whose best passage holds the question's own terms."""
    best = [max((float(coverage[row_id - 1]) for row_id, _ in ranking[:RRF_K]), default=0.0) for ranking in lexical]
    top = max(best, default=0.0)
    return [b / top if top > 0 else 1.0 for b in best]


def fuse(rankings: list[Ranking], coverage: np.ndarray | None = None, weights: list[float] | None = None) -> Ranking:
    """Reciprocal rank fusion of candidate lists (each counted with its weight, 1 by default),
    plus a little term coverage when given; best first."""
    fused: dict[int, float] = {}
    for n, ranking in enumerate(rankings):
        weight = weights[n] if weights is not None else 1.0
        for rank, (row_id, _) in enumerate(ranking, 1):
            fused[row_id] = fused.get(row_id, 0.0) + weight / (RRF_K + rank)
    if coverage is not None:
        for row_id in fused:
            fused[row_id] += COVERAGE_RANK_WEIGHT * float(coverage[row_id - 1])
    return sorted(fused.items(), key=lambda item: -item[1])


def score(index: Index, fused: Ranking, vector: np.ndarray, coverage: np.ndarray, *, slot: int = 0,
          lang: str = "zh", weight: float = COVERAGE_WEIGHT, further: Sequence[tuple[int, np.ndarray]] = ()) -> list[Hit]:
    """The fused candidates as hits, in the same order, each with its relevance (from the
    dense list `slot`, the primary model's). `further`: the other models' lists, each (slot,
    the question's vector); each hit keeps their cosines above their background (`Hit.further`,
    by_evidence counts them), read from the same stored rows."""
    rows = index.store.get([row_id for row_id, _ in fused])
    baselines: dict[tuple[int, str], float] = {}

    def above(list_slot: int, question: np.ndarray, row) -> float:
        """The row's cosine with the question in one list, above that list's background."""
        if (list_slot, row.lang) not in baselines:
            baselines[list_slot, row.lang] = index.dense[list_slot].baseline(question, row.lang, lang)
        return float(question @ row.vectors[list_slot]) - baselines[list_slot, row.lang]

    hits = []
    for row_id, fused_score in fused:
        row = rows.get(row_id)
        if row is None or slot not in row.vectors:
            continue
        cosine = above(slot, vector, row)
        covered = float(coverage[row_id - 1])
        hits.append(
            Hit(row.chunk_id, row.article, row.title, row.url, row.heading, row.text,
                relevance(cosine, covered, weight), cosine, covered, fused_score, row_id, lang=row.lang,
                further=tuple(above(s, v, row) if s in row.vectors else None for s, v in further))  # fmt: skip
        )
    return hits


def by_evidence(index: Index, hits: list[Hit], question: str, vector: np.ndarray, lang: str, model: str,
                *, slot: int = 0, one_scale: Sequence[bool] = ()) -> list[Hit]:
    """The scored hits ordered by their evidence (see the module's docstring), best first;
    each hit's `evidence` is set. Without sentence vectors of `model` (the primary, whose
    list is `slot`) in the index, a passage's best sentence counts as the passage.

    `one_scale`: for each further model (`Hit.further`, set by `score`), whether its scores are
    on one scale across languages (embeddings.ModelInfo.background). Each further model's cosine
    with the passage (above its background) is added to the evidence, as the primary's is, so that
    a second model's view, which fusion used to find the candidates, still counts in their order.
    A model without a background (m3e-small: Chinese only, raw cosines) counts only when the
    candidates are all in one language: across languages its cosines do not compare."""
    sentence_cosines(index, hits, vector, model)
    dense = index.dense[slot]
    baselines: dict[str, float] = {}
    for hit in hits:
        sentences = [s for _, s in units(hit.text)]
        # a question restated ("那么打瘦脸针后面瘫是否会恢复呢?") or an introduction is no evidence of an answer
        counted = [i for i, s in enumerate(sentences) if not answers_nothing(s)]
        best = hit.dense
        if hit.sentence_cosines is not None and counted:
            if hit.lang not in baselines:
                baselines[hit.lang] = dense.baseline(vector, hit.lang, lang)
            best = float(np.max(hit.sentence_cosines[counted])) - baselines[hit.lang]
        held = max(index.lexical.text_coverage(question, [sentences[i] for i in counted], lang), default=0.0)
        hit.evidence = hit.dense + best + EVIDENCE_COVERAGE * (hit.coverage + held)
    one_language = len({h.lang for h in hits}) == 1
    for hit in hits:
        hit.evidence += sum(c for c, flat in zip(hit.further, one_scale) if c is not None and (flat or one_language))
    return sorted(hits, key=lambda h: -h.order)


def sentence_cosines(index: Index, hits: list[Hit], vector: np.ndarray, model: str) -> None:
    """Set each hit's `sentence_cosines`: the question's vector (from `model`, the primary)
    against the sentence vectors stored at index time, read once per search (the evidence
    and the answering sentence both use them); left None where the index holds none of
    that model's for the hit."""
    todo = [h for h in hits if h.sentence_cosines is None]
    if not todo or index.meta.sentences != model:
        return
    stored = index.store.sentence_vectors([h.row for h in todo])
    for hit in todo:
        vectors = stored.get(hit.row)
        if vectors is not None and vectors.shape == (len(units(hit.text)), len(vector)):
            hit.sentence_cosines = vectors @ vector


@functools.lru_cache(maxsize=512)
def _shingles(text: str) -> frozenset[str]:
    """A passage's shingles, kept for the next question that retrieves it (about 28 KB a
    passage of the bundled corpus: 512 of them, about 14 MB at most)."""
    return frozenset(shingles(text))


def diversify(hits: list[Hit], k: int) -> list[Hit]:
    """Drop near-identical texts; keep at most MAX_PER_ARTICLE per article ahead of the rest."""
    kept: list[Hit] = []
    grams: list[frozenset[str]] = []
    for hit in hits:
        g = _shingles(hit.text)
        if any(near_duplicate(g, other, DUPLICATE_THRESHOLD) for other in grams):
            continue
        kept.append(hit)
        grams.append(g)
    first, later, per_article = [], [], {}
    for hit in kept:
        per_article[hit.article] = per_article.get(hit.article, 0) + 1
        (first if per_article[hit.article] <= MAX_PER_ARTICLE else later).append(hit)
    return (first + later)[:k]


def answering_sentences(index: Index, hits: list[Hit], question: str, vector: np.ndarray, lang: str, model: str) -> None:
    """Give each hit the answer score of each of its sentences (sentences.py): the cosine of
    the question's vector (from `model`, the primary) with the sentence vectors stored at
    index time, when the index holds that model's, plus the sentence's share of the question's terms."""
    sentence_cosines(index, hits, vector, model)
    for hit in hits:
        found = units(hit.text)
        sentences = [s for _, s in found]
        coverage = index.lexical.text_coverage(question, sentences, lang)
        hit.sentence_scores = answer_scores(question, sentences, hit.sentence_cosines, coverage, non_answers(found))
