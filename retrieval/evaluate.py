"""Measure retrieval on a question -> passage set (the format of shared eval/medqa).

`DIR/corpus.jsonl` holds passages `{"id", "title", "text"}`; `DIR/queries.jsonl`
holds questions `{"id", "text", "relevant": [passage ids]}`. The passages are
indexed with the same pipeline as articles (clean, chunk, embed) in a temporary
folder; a passage is ranked by its best chunk. Recall@k is the share of a
question's relevant passages found in the top k, averaged over questions;
MRR@10 is the mean reciprocal rank of the first relevant passage (0 past 10).

Indexing collapses a passage whose text another passage already holds (95% of
its character trigrams, see `corpus.chunk`): the other one is what search returns
and what a reply quotes. A relevant passage collapsed that way is therefore found
when the passage that holds its text is found; the figures say how many questions
that concerns ("relevant_collapsed").
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from common.jsonl import read_jsonl
from common.text import sha256
from corpus import CorpusError
from corpus.article import Block, Document
from embeddings import Encoder
from retrieval.build import build_from_documents
from retrieval.index import Index
from retrieval.search import Searcher

CUTOFFS = (1, 5, 10)
CHUNKS_PER_QUERY = 40  # chunks fetched to rank at least 10 distinct passages


def passages_as_documents(records: list[dict]) -> list[Document]:
    """Eval passages as documents for the indexing pipeline (the passage id is the path)."""
    docs = []
    for rec in records:
        lines = [Block(line.strip()) for line in str(rec.get("text", "")).splitlines() if line.strip()]
        if lines:
            docs.append(Document(str(rec["id"]), lines, sha256(rec["text"]), title=rec.get("title") or None))
    return docs


def evaluate(folder: Path, encoders: Encoder | list[Encoder], *, modes: tuple[str, ...] = ("hybrid",),
             progress: bool = False, cache: Path | None = None) -> dict:
    """Index the set's passages in a temporary folder and score its queries, per search mode.

    `cache`: a vector cache file kept between runs (the set's passages are embedded
    once per model). Returns {mode: figures}; figures also carry "latency_ms": the
    mean time per question of each search stage (embed, dense, lexical, fuse).
    """
    encoders = list(encoders) if isinstance(encoders, (list, tuple)) else [encoders]
    folder = Path(folder)
    corpus_file, queries_file = folder / "corpus.jsonl", folder / "queries.jsonl"
    for f in (corpus_file, queries_file):
        if not f.is_file():
            raise CorpusError(f"{f} is missing; an eval folder needs corpus.jsonl and queries.jsonl.")
    docs = passages_as_documents(read_jsonl(corpus_file))
    queries = [q for q in read_jsonl(queries_file) if q.get("relevant")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="articlebot-eval-") as tmp:
        report = build_from_documents(docs, Path(tmp), encoders, progress=progress, cache=cache)
        relevant = [{report.duplicates.get(pid, pid) for pid in q["relevant"]} for q in queries]
        collapsed = sum(1 for q in queries if any(pid in report.duplicates for pid in q["relevant"]))
        index = Index.load(Path(tmp), [e.name for e in encoders])
        try:
            searcher = Searcher(index, encoders)
            for mode in modes:
                rankings, stages = [], {}
                for q in queries:
                    rankings.append(rank_passages(searcher, q["text"], mode=mode))
                    for stage, seconds in searcher.last_timings.items():
                        stages[stage] = stages.get(stage, 0.0) + seconds
                figures = score(rankings, relevant)
                figures["relevant_collapsed"] = collapsed
                figures["latency_ms"] = {s: round(1000 * t / max(len(queries), 1), 2) for s, t in stages.items()}
                results[mode] = figures
        finally:
            index.close()
    return results


def rank_passages(searcher: Searcher, question: str, depth: int = max(CUTOFFS), mode: str = "hybrid") -> list[str]:
    """Distinct passage ids for a question, best first (a passage counts by its best chunk)."""
    ranked: list[str] = []
    for hit in searcher.search(question, CHUNKS_PER_QUERY, distinct=False, mode=mode):
        if hit.article not in ranked:
            ranked.append(hit.article)
        if len(ranked) == depth:
            break
    return ranked


def score(rankings: list[list[str]], relevant: list[set[str]]) -> dict:
    """Recall@1/5/10 and MRR@10 over the queries."""
    n = len(rankings)
    out: dict = {"queries": n}
    for k in CUTOFFS:
        total = sum(len(rel & set(ranked[:k])) / len(rel) for ranked, rel in zip(rankings, relevant))
        out[f"R@{k}"] = round(total / n, 4) if n else 0.0
    mrr = 0.0
    for ranked, rel in zip(rankings, relevant):
        for position, pid in enumerate(ranked[:10], 1):
            if pid in rel:
                mrr += 1 / position
                break
    out["MRR@10"] = round(mrr / n, 4) if n else 0.0
    return out
