"""Measuring the red flags on a labelled file, and choosing the meaning layer's threshold.

The file has one JSON object a line: {"message": "...", "category": "stroke" or
null (not an emergency), "tags": ["zh", "question", ...], "split": "tune" or
"held-out"}. tests/data/emergencies.jsonl is the bundled one: emergencies of every
category in both languages (colloquial, typos, traditional characters, rambling,
a family member's), and ordinary messages that look like them (history, general
questions, negation, mild side effects, figures of speech, questions about the
articles), split once by a fixed seed. For an ordinary message, its second tag is
its kind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.safety import RedFlags


class LabelError(Exception):
    """The labelled file is unreadable or a line is malformed."""


@dataclass
class Labelled:
    message: str
    category: str | None
    tags: list[str]
    split: str | None

    @property
    def kind(self) -> str:
        return self.tags[1] if len(self.tags) > 1 else "other"


def load(path: Path, split: str | None = None) -> list[Labelled]:
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelError(f"Cannot read {path}: {exc}") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            item = Labelled(str(rec["message"]), rec.get("category") or None, [str(t) for t in rec.get("tags", [])], rec.get("split"))
        except (ValueError, KeyError, TypeError) as exc:
            raise LabelError(f"{path}, line {n}: {exc!r} (expected {{\"message\": ..., \"category\": ... or null}})") from None
        if split is None or item.split == split:
            out.append(item)
    if not out:
        raise LabelError(f"{path} has no line{f' in the split {split!r}' if split else ''}.")
    return out


def _share(hits: int, of: int) -> dict:
    return {"share": round(hits / of, 4) if of else None, "hits": hits, "of": of}


def scores(red_flags: RedFlags, items: list[Labelled]) -> tuple[list[str | None], list[tuple[float, str]], float, float]:
    """Per message: the rules' category, and the meaning layer's (emergency probability, most
    probable category), (0, "") without the layer; and the mean milliseconds per message of
    each layer (the embedding included)."""
    started = time.perf_counter()
    rules = [red_flags.by_rules(item.message) for item in items]
    rules_ms = (time.perf_counter() - started) * 1000 / len(items)
    if red_flags.meaning is None:
        return rules, [(0.0, "")] * len(items), rules_ms, 0.0
    started = time.perf_counter()
    meaning = [red_flags.meaning.score(red_flags.for_meaning(item.message)) for item in items]
    return rules, meaning, rules_ms, (time.perf_counter() - started) * 1000 / len(items)


def figures(items: list[Labelled], flagged: list[bool], categories: list[str | None]) -> dict:
    """Recall per category and overall, false alarms per kind and overall, wrong categories."""
    emergencies = [(i, f, c) for i, f, c in zip(items, flagged, categories) if i.category]
    ordinary = [(i, f) for i, f in zip(items, flagged) if not i.category]
    out = {
        "recall": _share(sum(f for _, f, _ in emergencies), len(emergencies)),
        "false_alarms": _share(sum(f for _, f in ordinary), len(ordinary)),
        "wrong_category": sum(1 for i, f, c in emergencies if f and c != i.category),
    }
    out["per_category"] = _per(((i.category,), f) for i, f, _ in emergencies)
    out["per_kind"] = _per(((i.kind,), f) for i, f in ordinary)
    # how the emergencies are written (typo, rambling, family, ...): which ways of writing are missed
    out["per_tag"] = _per((set(i.tags), f) for i, f, _ in emergencies)
    return out


def _per(rows: Iterable[tuple[Iterable[str], bool]]) -> dict:
    """The share flagged in each group, for rows of (the groups a message is in, flagged)."""
    counts: dict[str, list[int]] = {}
    for groups, flagged in rows:
        for group in groups:
            cell = counts.setdefault(group, [0, 0])
            cell[0] += flagged
            cell[1] += 1
    return {group: _share(hits, of) for group, (hits, of) in sorted(counts.items())}


def evaluate(red_flags: RedFlags, items: list[Labelled], threshold: float | None = None) -> dict:
    """Rules alone, meaning alone and both (as the bot runs them) at `threshold` (default: the configured one)."""
    rules, meaning, rules_ms, meaning_ms = scores(red_flags, items)
    out = {"messages": len(items), "rules_ms": round(rules_ms, 2), "meaning_ms": round(meaning_ms, 2)}
    out["rules"] = figures(items, [c is not None for c in rules], rules)
    if red_flags.meaning is not None:
        th = red_flags.meaning.threshold if threshold is None else threshold
        cats = [category if p >= th else None for p, category in meaning]
        out["threshold"] = th
        out["meaning"] = figures(items, [c is not None for c in cats], cats)
        both = [r or c for r, c in zip(rules, cats)]
        out["both"] = figures(items, [c is not None for c in both], both)
    return out


def choose_threshold(items: list[Labelled], rules: list[str | None], meaning: list[tuple[float, str]], budget: float) -> dict:
    """The lowest threshold at which the meaning layer adds at most `budget` false alarms
    (as a share of the ordinary messages) to what the rules already flag; with each
    grid point's recall and false alarms, for the layer alone and for both layers."""
    ordinary = np.array([i.category is None for i in items])
    by_rules = np.array([r is not None for r in rules])
    score = np.array([p for p, _ in meaning])
    grid = []
    for th in np.round(np.arange(0.30, 0.991, 0.05).tolist() + [0.97, 0.98, 0.99], 2):
        alone = score >= th
        both = alone | by_rules
        grid.append({
            "threshold": float(th),
            "meaning_recall": round(float(alone[~ordinary].mean()), 4), "meaning_false_alarms": round(float(alone[ordinary].mean()), 4),
            "recall": round(float(both[~ordinary].mean()), 4), "false_alarms": round(float(both[ordinary].mean()), 4),
            "added_false_alarms": round(float((alone & ~by_rules)[ordinary].mean()), 4),
        })  # fmt: skip
    grid.sort(key=lambda row: row["threshold"])
    fitting = [row for row in grid if row["added_false_alarms"] <= budget]
    chosen = fitting[0] if fitting else grid[-1]
    return {"grid": grid, "chosen": chosen, "budget": budget}
