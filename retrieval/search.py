"""Hybrid search over the live index: the stages of `retrieval.stages`, run in order and timed.

The question is embedded by every configured model (each with its own query
instruction); each model's dense candidates and BM25's are fused, scored for
relevance (by the first model), ordered by their evidence (best sentence included),
optionally re-ranked and diversified. `Searcher` also follows the data directory's live
index version, so a re-index is picked up while the bot runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from common.text import detect_language, to_simplified
from embeddings import Encoder, model_info
from embeddings.batching import QueryBatcher
from retrieval import layterms, stages
from retrieval.index import Index, current_version
from retrieval.records import Hit

log = logging.getLogger(__name__)

class _Stopwatch:
    """Seconds spent per stage of one search."""

    def __init__(self):
        self.timings: dict[str, float] = {}
        self._lap = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = now - self._lap
        self._lap = now


class Searcher:
    """Finds the passages closest to a question in a loaded index.

    Given `data_dir`, it follows that directory's live version: when a re-index
    publishes a new one, the next search loads it and swaps it in. A search in
    flight keeps the index it started with, so no question fails during the swap.
    """

    CHECK_EVERY = 1.0  # seconds between looks at the data directory's pointer

    def __init__(self, index: Index, encoders: Encoder | Sequence[Encoder], *, data_dir: Path | None = None,
                 reranker: stages.Reranker | None = None):
        self.encoders = list(encoders) if isinstance(encoders, (list, tuple)) else [encoders]
        self.encoder = self.encoders[0]  # the primary model: relevance comes from its cosine
        self.models = [e.name for e in self.encoders]
        self.coverage_weight = model_info(self.encoder.name).coverage_weight
        self._check(index)
        self.index = index
        self.reranker = reranker
        # questions asked at the same time are embedded together, per model
        self.queries = [QueryBatcher(e) for e in self.encoders]
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
                fresh = Index.load(self.data_dir, self.models)
                self._check(fresh)
            except Exception as exc:  # noqa: BLE001 - a bad new version must not stop answering
                log.error("not switching to the index in %s: %s", live, exc)
                return False
            self.index = fresh
            log.info("switched to index %s (%d chunks)", fresh.meta.version, fresh.meta.chunks)
            return True
        finally:
            self._loading.release()

    def _check(self, index: Index) -> None:
        """Every model must have its dense list, of its dimension, in the index."""
        for encoder in self.encoders:
            index.check_encoder(encoder.dim, encoder.name)

    def mend(self, text: str, index: Index | None = None) -> str:
        """`text` as it is searched: in simplified characters, as the index holds every text it
        compares (to_simplified), with typos that sound like the corpus's phrases written as the
        articles write them ("瘦脸真" -> "瘦脸针", sounds.py)."""
        return (index or self.index).lexical.mend(to_simplified(text))

    def search(self, question: str, k: int = 5, *, distinct: bool = True, mode: str = "hybrid",
               asked: str | None = None) -> list[Hit]:
        """The top `k` passages for `question`, best first.

        `mode` "dense" or "lexical" ranks by one list only (for comparisons). With
        `distinct` (what replies use) no two hits have near-identical text and one
        article fills at most stages.MAX_PER_ARTICLE of the first places; evaluation turns it off.
        `last_timings` then holds the seconds each stage took. `asked`: what the user
        asked, when `question` also holds earlier context (a follow-up): its own terms
        choose the sentence that answers.
        """
        self.refresh()
        index = self.index  # one version for the whole search, even if a swap happens meanwhile
        clock = _Stopwatch()
        question, asked = self.mend(question, index), asked and self.mend(asked, index)
        # everyday words for a symptom searched with the articles' words for it (layterms.py)
        known = index.lexical.idf.__contains__
        question, asked = layterms.expand(question, known), asked and layterms.expand(asked, known)
        lang = detect_language(question)
        vectors = [batcher.encode_one(question) for batcher in self.queries]
        clock.lap("embed")
        depth = max(stages.CANDIDATES, k * stages.OVERFETCH)
        slots = [index.slot(model) for model in self.models]
        dense = [stages.dense_candidates(index, v, depth, slot=s, lang=lang) for v, s in zip(vectors, slots)] if mode != "lexical" else []
        clock.lap("dense")
        lexical = [stages.lexical_candidates(index, question, depth, lang), stages.bridged_candidates(index, question, depth, lang)] if mode != "dense" else []
        clock.lap("lexical")
        coverage = index.lexical.coverage(question, lang)
        weights = [1.0] * len(dense) + stages.lexical_weights(lexical, coverage)
        fused = stages.fuse(dense + lexical, coverage if mode == "hybrid" else None, weights)
        clock.lap("fuse")
        hits = stages.score(index, fused[: k * stages.OVERFETCH if distinct else k], vectors[0], coverage, slot=slots[0],
                            lang=lang, weight=self.coverage_weight, further=list(zip(slots[1:], vectors[1:])))  # fmt: skip
        clock.lap("score")
        if mode == "hybrid":  # "dense" and "lexical" show one list's own order, for comparisons
            one_scale = [model_info(model).background for model in self.models[1:]]
            hits = stages.by_evidence(index, hits, question, vectors[0], lang, self.models[0], slot=slots[0], one_scale=one_scale)
            clock.lap("evidence")
        if self.reranker is not None:
            hits = self.reranker.rerank(question, hits)
            clock.lap("rerank")
        hits = stages.diversify(hits, k) if distinct else hits[:k]
        clock.lap("diversify")
        stages.answering_sentences(index, hits, asked or question, vectors[0], lang, self.models[0])
        clock.lap("sentences")
        self.last_timings = clock.timings
        return hits
