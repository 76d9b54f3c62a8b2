"""Dense search: embed the question, take the nearest passages, drop repeats."""

from __future__ import annotations

from dataclasses import dataclass

from corpus.text import near_duplicate, shingles
from embeddings import Encoder
from retrieval.index import Index

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
    """Finds the passages closest to a question in a loaded index."""

    def __init__(self, index: Index, encoder: Encoder):
        index.check_encoder(encoder.dim)
        self.index = index
        self.encoder = encoder

    def search(self, question: str, k: int = 5, *, distinct: bool = True) -> list[Hit]:
        """The top `k` passages for `question`, best first.

        With `distinct` (what replies use) no two hits have near-identical text;
        evaluation ranks every passage and turns it off.
        """
        vector = self.encoder.encode([question])[0]
        found = self.index.search(vector, k * OVERFETCH)
        rows = self.index.store.get([i for i, _ in found])
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
