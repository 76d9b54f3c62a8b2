"""Dense search: embed the question, take the nearest passages, drop repeats."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from corpus.text import near_duplicate, shingles
from embeddings import Encoder
from retrieval.index import Index, current_version

log = logging.getLogger(__name__)

OVERFETCH = 3  # candidates fetched per wanted hit, so that dropping repeats still leaves k
DUPLICATE_THRESHOLD = 0.8


@dataclass
class Hit:
    """One retrieved passage with its cosine similarity to the question."""

    chunk_id: str
    article: str
    title: str
    url: str | None
    heading: str | None
    text: str
    score: float


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
        self.data_dir = data_dir
        self._checked = time.monotonic()
        self._loading = threading.Lock()

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

    def search(self, question: str, k: int = 5, *, distinct: bool = True) -> list[Hit]:
        """The top `k` passages for `question`, best first.

        With `distinct` (what replies use) no two hits have near-identical text;
        evaluation ranks every passage and turns it off.
        """
        self.refresh()
        index = self.index  # one version for the whole search, even if a swap happens meanwhile
        vector = self.encoder.encode([question])[0]
        found = index.search(vector, k * OVERFETCH)
        rows = index.store.get([i for i, _ in found])
        hits: list[Hit] = []
        kept: list[set[str]] = []
        for row_id, score in found:
            row = rows.get(row_id)
            if row is None:
                continue
            if distinct:
                grams = shingles(row.text)
                if any(near_duplicate(grams, other, DUPLICATE_THRESHOLD) for other in kept):
                    continue
                kept.append(grams)
            hits.append(Hit(row.chunk_id, row.article, row.title, row.url, row.heading, row.text, score))
            if len(hits) == k:
                break
        return hits
