"""Hybrid search: dense (FAISS) and lexical (BM25) rankings fused, then diversified.

Ranking. The question is embedded (with the model's query instruction, if it has
one) and searched in FAISS; it is also searched with BM25. The two candidate lists
are fused with reciprocal rank fusion, score(p) = sum over lists of 1/(RRF_K + rank),
plus COVERAGE_RANK_WEIGHT times the passage's term coverage (below), which mostly
reorders passages whose fused scores are nearly tied. Measured on the medqa set,
plain RRF with equal weights and k=60 did as well as any weighting or
score-normalised linear fusion we tried; the coverage term raised MRR@10 from
0.348 to 0.363 (R@10 0.515 to 0.520), and chosen on one half of the questions it
held on the other half (see the closing notes).

Relevance ("is this good enough to quote?"). Rank fusion says which passage is
best, not whether it is good enough, so every hit also gets a relevance score:
its cosine similarity to the question plus COVERAGE_WEIGHT times the IDF-weighted
share of the question's terms that occur in it (lexical.coverage). The threshold
on that score is calibrated on on-/off-topic questions (tests/data/calibration.jsonl,
`articlebot calibrate`). Cosine alone cannot separate an off-topic question from an
English on-topic one with a Chinese-only model; coverage can.

Diversity. No two hits with near-identical text, and at most MAX_PER_ARTICLE hits
from one article among the first ones, unless nothing else is relevant.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from corpus.text import near_duplicate, shingles
from embeddings import Encoder
from embeddings.batching import QueryBatcher
from retrieval.index import Index, current_version

log = logging.getLogger(__name__)

OVERFETCH = 3  # candidates fetched per wanted hit, so that dropping repeats still leaves k
CANDIDATES = 120  # from each of the dense and lexical searches (medqa: 50 gave R@10 0.500, 120 and 200 both 0.520)
RRF_K = 60
COVERAGE_RANK_WEIGHT = 0.01  # term coverage added to the fused score: breaks near-ties in favour of passages with the question's terms
COVERAGE_WEIGHT = 0.5
DUPLICATE_THRESHOLD = 0.8
MAX_PER_ARTICLE = 2


def relevance(cosine: float, coverage: float, weight: float = COVERAGE_WEIGHT) -> float:
    """How well a passage answers a question (what the refusal threshold applies to)."""
    return cosine + weight * coverage


@dataclass
class Hit:
    """One retrieved passage: `score` is its relevance; the parts it is made of are kept too."""

    chunk_id: str
    article: str
    title: str
    url: str | None
    heading: str | None
    text: str
    score: float
    dense: float = 0.0
    coverage: float = 0.0
    fused: float = 0.0


class Searcher:
    """Finds the passages closest to a question in a loaded index.

    Given `data_dir`, it follows that directory's live version: when a re-index
    publishes a new one, the next search loads it and swaps it in. A search in
    flight keeps the index it started with, so no question fails during the swap.
    """

    CHECK_EVERY = 1.0  # seconds between looks at the data directory's pointer

    def __init__(self, index: Index, encoder: Encoder, *, data_dir: Path | None = None):
        index.check_encoder(encoder.dim)
        self.index = index
        self.encoder = encoder
        self.queries = QueryBatcher(encoder)  # questions asked at the same time are embedded together
        self.data_dir = data_dir
        self._checked = time.monotonic()
        self._loading = threading.Lock()
        self.last_timings: dict[str, float] = {}

    def refresh(self, *, force: bool = False) -> bool:
        """Swap in a newer published index version, if there is one; True when it did."""
        if self.data_dir is None or (not force and time.monotonic() - self._checked < self.CHECK_EVERY):
            return False
        if not self._loading.acquire(blocking=False):
            return False  # another thread is loading it; keep answering from the current one
        try:
            self._checked = time.monotonic()
            live = current_version(self.data_dir)
            if live is None or live == self.index.folder:
                return False
            try:
                fresh = Index.load(self.data_dir, self.encoder.name)
                fresh.check_encoder(self.encoder.dim)
            except Exception as exc:  # noqa: BLE001 - a bad new version must not stop answering
                log.error("not switching to the index in %s: %s", live, exc)
                return False
            self.index = fresh
            log.info("switched to index %s (%d chunks)", fresh.meta.version, fresh.meta.chunks)
            return True
        finally:
            self._loading.release()

    def search(self, question: str, k: int = 5, *, distinct: bool = True, mode: str = "hybrid") -> list[Hit]:
        """The top `k` passages for `question`, best first.

        `mode` "dense" or "lexical" ranks by one list only (for comparisons). With
        `distinct` (what replies use) no two hits have near-identical text and one
        article fills at most MAX_PER_ARTICLE of the first places; evaluation turns it off.
        """
        self.refresh()
        index = self.index  # one version for the whole search, even if a swap happens meanwhile
        timings = {}
        started = time.perf_counter()
        vector = self.queries.encode_one(getattr(self.encoder, "query_prefix", "") + question)
        timings["embed"] = time.perf_counter() - started
        depth = max(CANDIDATES, k * OVERFETCH)
        lap = time.perf_counter()
        dense = index.search(vector, depth) if mode != "lexical" else []
        timings["dense"] = time.perf_counter() - lap
        lap = time.perf_counter()
        lexical = index.lexical.search(question, depth) if mode != "dense" else []
        timings["lexical"] = time.perf_counter() - lap
        lap = time.perf_counter()
        coverage = index.lexical.coverage(question)
        fused: dict[int, float] = {}
        for ranking in (dense, lexical):
            for rank, (row_id, _) in enumerate(ranking, 1):
                fused[row_id] = fused.get(row_id, 0.0) + 1.0 / (RRF_K + rank)
        if mode == "hybrid":
            for row_id in fused:
                fused[row_id] += COVERAGE_RANK_WEIGHT * float(coverage[row_id - 1])
        order = sorted(fused, key=lambda i: -fused[i])[: k * OVERFETCH if distinct else k]
        rows = index.store.get(order)
        found = [(row_id, rows[row_id]) for row_id in order if row_id in rows]
        hits = []
        for row_id, row in found:
            cosine = float(vector @ row.vector)
            covered = float(coverage[row_id - 1])
            hits.append(
                Hit(row.chunk_id, row.article, row.title, row.url, row.heading, row.text,
                    relevance(cosine, covered), cosine, covered, fused[row_id])  # fmt: skip
            )
        hits = diversify(hits, k) if distinct else hits[:k]
        timings["fuse"] = time.perf_counter() - lap
        self.last_timings = timings
        return hits


def diversify(hits: list[Hit], k: int) -> list[Hit]:
    """Drop near-identical texts; keep at most MAX_PER_ARTICLE per article ahead of the rest."""
    kept: list[Hit] = []
    grams: list[set[str]] = []
    for hit in hits:
        g = shingles(hit.text)
        if any(near_duplicate(g, other, DUPLICATE_THRESHOLD) for other in grams):
            continue
        kept.append(hit)
        grams.append(g)
    first, later, per_article = [], [], {}
    for hit in kept:
        per_article[hit.article] = per_article.get(hit.article, 0) + 1
        (first if per_article[hit.article] <= MAX_PER_ARTICLE else later).append(hit)
    return (first + later)[:k]
