"""Lexical search: BM25 (bm25s) over Chinese character bigrams and English words.

Tokenisation was chosen by measurement on the medqa retrieval set
(`articlebot eval --compare`): character bigrams matched or beat jieba words,
jieba + bigrams and unigrams + bigrams once fused with dense search, and need no
dictionary. The index is built with the rest of an index version and saved in
its folder (`bm25/`), never rebuilt per question.

Besides BM25 scores it gives the *coverage* of a question by a passage: the share
of the question's terms, weighted by IDF, that occur in the passage. Terms the
corpus never uses count fully against coverage, which is what makes an off-topic
question look off-topic (see stages.relevance).
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from common.text import tokenize

logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex:
    """BM25 over an index version's chunks; positions are chunk row ids minus one."""

    def __init__(self, bm25, idf: dict[str, float], num_docs: int):
        self.bm25 = bm25
        self.idf = idf
        self.num_docs = num_docs

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        import bm25s

        token_lists = [tokenize(t) for t in texts]
        bm25 = bm25s.BM25()
        bm25.index(token_lists, show_progress=False)
        df: dict[str, int] = {}
        for tokens in token_lists:
            for token in set(tokens):
                df[token] = df.get(token, 0) + 1
        n = len(texts)
        idf = {t: _idf(n, d) for t, d in df.items()}
        return cls(bm25, idf, n)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(folder))
        (folder / "idf.json").write_text(json.dumps({"num_docs": self.num_docs, "idf": self.idf}, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        meta = json.loads((folder / "idf.json").read_text("utf-8"))
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False), meta["idf"], meta["num_docs"])

    def search(self, question: str, k: int) -> list[tuple[int, float]]:
        """(chunk row id, BM25 score) of the k best-scoring chunks with any term in common."""
        tokens = [t for t in tokenize(question) if t in self.idf]
        if not tokens or self.num_docs == 0:
            return []
        scores = self.bm25.get_scores(tokens)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(int(i) + 1, float(scores[i])) for i in top if scores[i] > 0]

    def coverage(self, question: str) -> np.ndarray:
        """For every chunk (by position), the IDF-weighted share of the question's distinct terms it contains (0..1).

        Read from the BM25 postings (which chunks contain each term) rather than by
        tokenising passages, so it costs about as much as the BM25 search itself.
        """
        out = np.zeros(self.num_docs, dtype=np.float32)
        terms = set(tokenize(question))
        unseen = _idf(self.num_docs, 0)
        total = sum(self.idf.get(t, unseen) for t in terms)
        if not total or self.num_docs == 0:
            return out
        vocab, postings = self.bm25.vocab_dict, self.bm25.scores
        indptr, indices = postings["indptr"], postings["indices"]
        for term in terms:
            tid = vocab.get(term)
            if tid is not None and term in self.idf:
                out[indices[indptr[tid] : indptr[tid + 1]]] += self.idf[term]
        return out / total


def _idf(num_docs: int, df: int) -> float:
    return math.log(1 + (num_docs - df + 0.5) / (df + 0.5))
