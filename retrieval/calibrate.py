"""Choose the refusal threshold on labelled questions, and report how well it refuses.

The input is JSON lines `{"question": str, "article": str | null}`: on-topic
questions name the article that answers them, off-topic ones have null. For each
coverage weight on a small grid, every question gets the relevance of its best
hit (stages.relevance), and the threshold that classifies the most questions
correctly (refuse off-topic, answer on-topic) is taken, half-way between the
neighbouring scores. Reported per weight: the threshold, refusal precision
(refused questions that were off-topic) and recall (off-topic questions refused),
and how many on-topic questions were answered from the right article.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.search import Searcher
from retrieval.stages import relevance

WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


@dataclass
class Scored:
    """One labelled question with what the search found for it."""

    question: str
    article: str | None
    parts: list[tuple[float, float, str]]  # (cosine, coverage, article) per hit, in rank order


def score_questions(searcher: Searcher, labelled: list[dict], k: int = 5) -> list[Scored]:
    out = []
    for item in labelled:
        hits = searcher.search(item["question"], k)
        out.append(Scored(item["question"], item.get("article"), [(h.dense, h.coverage, h.article) for h in hits]))
    return out


def best_threshold(on: list[float], off: list[float]) -> float:
    """The cut that classifies the most scores correctly (answer >= cut, refuse < cut)."""
    candidates = sorted(set(on) | set(off))
    cuts = [candidates[0] - 1e-6] + [(a + b) / 2 for a, b in zip(candidates, candidates[1:])] + [candidates[-1] + 1e-6]
    return max(cuts, key=lambda c: (sum(s >= c for s in on) + sum(s < c for s in off), -abs(c - 0.8)))


def evaluate_threshold(scored: list[Scored], weight: float, threshold: float) -> dict:
    """Refusal precision/recall and on-topic accuracy at one (weight, threshold)."""
    refused_off = refused_on = answered_right = 0
    off_total = sum(1 for s in scored if s.article is None)
    on_total = len(scored) - off_total
    for s in scored:
        relevant = [art for c, v, art in s.parts if relevance(c, v, weight) >= threshold]
        refused = not relevant
        if s.article is None:
            refused_off += refused
        else:
            refused_on += refused
            answered_right += (not refused) and relevant[0] == s.article
    refused_total = refused_off + refused_on
    return {
        "weight": weight,
        "threshold": round(threshold, 4),
        "refusal_precision": round(refused_off / refused_total, 4) if refused_total else 1.0,
        "refusal_recall": round(refused_off / off_total, 4) if off_total else 1.0,
        "on_topic_answered": round((on_total - refused_on) / on_total, 4) if on_total else 0.0,
        "on_topic_right_article": round(answered_right / on_total, 4) if on_total else 0.0,
        "questions": {"on_topic": on_total, "off_topic": off_total},
    }


def calibrate(scored: list[Scored], weights: tuple[float, ...] = WEIGHTS) -> list[dict]:
    """For each coverage weight: the best threshold and its figures."""
    rows = []
    for weight in weights:
        best = [max((relevance(c, v, weight) for c, v, _ in s.parts), default=0.0) for s in scored]
        on = [b for b, s in zip(best, scored) if s.article is not None]
        off = [b for b, s in zip(best, scored) if s.article is None]
        rows.append(evaluate_threshold(scored, weight, best_threshold(on, off)))
    return rows
