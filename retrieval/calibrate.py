"""Choose the refusal threshold on labelled questions, and report how well it refuses.

The input is JSON lines `{"question": str, "article": str | null}`: on-topic
questions name the article that answers them, off-topic ones have null. For each
coverage weight on a small grid, every question gets the relevance of its best
hit (stages.relevance), and the threshold that classifies the most questions
correctly (refuse off-topic, answer on-topic) is taken, half-way between the
neighbouring scores. Reported per weight: the threshold, refusal precision
(refused questions that were off-topic) and recall (off-topic questions refused),
and how many on-topic questions were answered from the right article.

`calibrate_gate` then chooses the gate of gate.py at one weight: a base threshold
on the short questions, an offset for each language with enough questions of its
own, and an offset for long messages (several clauses), each the cut that
classifies most of its group correctly.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.text import detect_language
from retrieval import demands, gate
from retrieval.pipeline import prepared, without_repeats
from retrieval.search import Searcher
from retrieval.stages import relevance

WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
MIN_GROUP = 5  # answerable and unanswerable questions a group needs before it gets an offset of its own


@dataclass
class Scored:
    """One labelled question with what the search found for it."""

    question: str
    article: str | None
    parts: list[tuple[float, float, str]]  # (cosine, coverage, article) per hit, in rank order


def score_questions(searcher: Searcher, labelled: list[dict], k: int = 5) -> list[Scored]:
    """Each labelled question with its hits; left out, a question that is refused whatever the
    threshold: it asks for what none of its hits holds (a comparison, a price: demands.py)."""
    out = []
    for item in labelled:
        _, question, _ = prepared(item["question"])  # what the bot searches (pipeline.py)
        hits = searcher.search(without_repeats(question), k)
        if demands.unmet(searcher.mend(question), [h.text for h in hits], searcher.index.lexical, detect_language(question)):
            continue
        out.append(Scored(question, item.get("article"), [(h.dense, h.coverage, h.article) for h in hits]))
    return out


def best_threshold(on: list[float], off: list[float], prefer: float = 0.8) -> float:
    """The cut that classifies the most scores correctly (answer >= cut, refuse < cut);
    of equally good cuts, the one nearest `prefer`."""
    candidates = sorted(set(on) | set(off))
    cuts = [candidates[0] - 1e-6] + [(a + b) / 2 for a, b in zip(candidates, candidates[1:])] + [candidates[-1] + 1e-6]
    return max(cuts, key=lambda c: (sum(s >= c for s in on) + sum(s < c for s in off), -abs(c - prefer)))


def _best(s: Scored, weight: float) -> float:
    return max((relevance(c, v, weight) for c, v, _ in s.parts), default=0.0)


def _split(scored: list[Scored], values: list[float]) -> tuple[list[float], list[float]]:
    on = [v for v, s in zip(values, scored) if s.article is not None]
    return on, [v for v, s in zip(values, scored) if s.article is None]


def _enough(on: list[float], off: list[float]) -> bool:
    return len(on) >= MIN_GROUP and len(off) >= MIN_GROUP


def calibrate_gate(scored: list[Scored], weight: float) -> tuple[float, dict[str, float]]:
    """The base threshold and the offsets (gate.py) chosen on labelled questions at one weight."""
    short = [s for s in scored if not gate.is_long(s.question)] or scored  # only long messages: the base from them
    base = best_threshold(*_split(short, [_best(s, weight) for s in short]))
    offsets: dict[str, float] = {}
    for lang in sorted({detect_language(s.question) for s in short}):
        group = [s for s in short if detect_language(s.question) == lang]
        on, off = _split(group, [_best(s, weight) for s in group])
        if _enough(on, off):
            offsets[lang] = round(best_threshold(on, off, prefer=base) - base, 4)
    long = [s for s in scored if gate.is_long(s.question)]
    on, off = _split(long, [_best(s, weight) - gate.cut(base, offsets, detect_language(s.question)) for s in long])
    if _enough(on, off):
        offsets[gate.LONG] = round(best_threshold(on, off, prefer=0.0), 4)
    return round(base, 4), offsets


def evaluate_threshold(scored: list[Scored], weight: float, threshold: float, offsets: dict[str, float] | None = None) -> dict:
    """Refusal precision/recall and on-topic accuracy at one weight and threshold
    (with `offsets`, the threshold of each question is the gate's, gate.py)."""
    refused_off = refused_on = answered_right = 0
    off_total = sum(1 for s in scored if s.article is None)
    on_total = len(scored) - off_total
    for s in scored:
        cut = gate.threshold(threshold, offsets or {}, s.question, detect_language(s.question))
        relevant = [art for c, v, art in s.parts if relevance(c, v, weight) >= cut]
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
        "offsets": dict(offsets or {}),
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
        rows.append(evaluate_threshold(scored, weight, best_threshold(*_split(scored, [_best(s, weight) for s in scored]))))
    return rows
