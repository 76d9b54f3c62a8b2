"""The content-gap threshold, calibrated on a labelled set of unanswered questions.

The set (tests/data/gap_groups.toml) holds [[groups]] of questions that mean the same
(`name`, `family`, `split` = "tune" or "held", `questions`). The threshold and the
cross-language offset are the pair that gives the tune half the highest adjusted Rand
index against the labels; the held-out half is then scored at that pair. Pairwise
precision: of the question pairs put in one group, the share that belong together;
recall: of the pairs that belong together, the share put in one group.
`bench/gaps.py` prints the figures; `gaps.THRESHOLD` and `gaps.CROSS_LANGUAGE` are what it chose.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insights.gaps import GapGrouper

GRID = tuple(round(0.20 + 0.01 * i, 2) for i in range(61))  # thresholds 0.20 .. 0.80
OFFSETS = tuple(round(0.05 * i, 2) for i in range(13))  # cross-language offsets 0 .. 0.60


class LabelsError(Exception):
    """The labelled set cannot be read."""


@dataclass
class Labelled:
    name: str
    family: str
    split: str
    questions: list[str]


def load_groups(path: Path) -> list[Labelled]:
    try:
        data = tomllib.loads(Path(path).read_text("utf-8"))
        groups = [Labelled(str(g["name"]), str(g.get("family", g["name"])), str(g["split"]), [str(q) for q in g["questions"]])
                  for g in data["groups"]]  # fmt: skip
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        raise LabelsError(f"Cannot read the labelled gap groups in {path}: {exc!r}") from None
    questions = [q for g in groups for q in g.questions]
    if len(set(questions)) != len(questions):
        raise LabelsError(f"{path} lists a question twice.")
    return groups


def pairwise(labels: list, predicted: list) -> tuple[float, float, float]:
    """Pairwise (precision, recall, F1) of a grouping against the true groups."""
    pairs = _Pairs(labels, ["zh"] * len(labels))
    figures = pairs.score(predicted)
    return figures["precision"], figures["recall"], figures["f1"]


class _Pairs:
    """The question pairs of a labelled set: which belong together, which are in one language."""

    def __init__(self, labels: list, langs: list[str]):
        truth, lang = np.asarray(labels), np.asarray(langs)
        self.upper = np.triu_indices(len(truth), 1)
        self.same = (truth[:, None] == truth[None, :])[self.upper]
        self.one_lang = (lang[:, None] == lang[None, :])[self.upper]

    def score(self, predicted: list) -> dict:
        guess = np.asarray(predicted)
        together = (guess[:, None] == guess[None, :])[self.upper]
        hits = together & self.same
        precision = float(hits.sum() / together.sum()) if together.sum() else 1.0
        recall = float(hits.sum() / self.same.sum()) if self.same.sum() else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

        def share(mask: np.ndarray) -> float:
            return float((hits & mask).sum() / (self.same & mask).sum()) if (self.same & mask).sum() else 1.0

        return {"precision": precision, "recall": recall, "f1": f1, "recall_one_language": share(self.one_lang),
                "recall_across_languages": share(~self.one_lang)}  # fmt: skip


def scores(grouper: GapGrouper, groups: list[Labelled], thresholds: tuple[float, ...] = GRID,
           offsets: tuple[float, ...] = OFFSETS) -> dict[tuple[float, float], dict]:  # fmt: skip
    """For each (cross-language offset, threshold): adjusted Rand index, pairwise precision /
    recall / F1, recall within one language and across languages, and the number of groups
    made, on `groups` (one merge tree per offset, cut at every threshold)."""
    from scipy.cluster.hierarchy import fcluster
    from sklearn.metrics import adjusted_rand_score

    from common.text import detect_language
    from insights.gaps import tree

    texts = [q for g in groups for q in g.questions]
    labels = [g.name for g in groups for _ in g.questions]
    vectors = grouper.vectors(texts)
    langs = [detect_language(t) for t in texts]
    pairs = _Pairs(labels, langs)
    out = {}
    for offset in offsets:
        merges = tree(vectors, langs, offset)
        for t in thresholds:
            predicted = fcluster(merges, t=t, criterion="distance")
            figures = {"ari": float(adjusted_rand_score(labels, predicted)), **pairs.score(predicted)}
            out[offset, t] = {**{k: round(v, 4) for k, v in figures.items()}, "groups": len(set(predicted))}
    return out


def calibrate(grouper: GapGrouper, groups: list[Labelled], thresholds: tuple[float, ...] = GRID,
              offsets: tuple[float, ...] = OFFSETS) -> dict:  # fmt: skip
    """The (cross-language offset, threshold) with the best tune-half ARI (ties: the smaller
    offset, then the smaller threshold), and both halves' figures at it."""
    halves = {split: [g for g in groups if g.split == split] for split in ("tune", "held")}
    if not all(halves.values()):
        raise LabelsError("The labelled set needs groups in both splits, tune and held.")
    tune = scores(grouper, halves["tune"], thresholds, offsets)
    offset, threshold = max(tune, key=lambda k: (tune[k]["ari"], -k[0], -k[1]))
    held = scores(grouper, halves["held"], (threshold,), (offset,))[offset, threshold]
    same_only = max((k for k in tune if k[0] == 0.0), key=lambda k: (tune[k]["ari"], -k[1]), default=None)
    sizes = {split: {"groups": len(gs), "questions": sum(len(g.questions) for g in gs)} for split, gs in halves.items()}
    return {
        "model": grouper.encoder.name,
        "threshold": threshold,
        "cross_language": offset,
        "tune": tune[offset, threshold],
        "held": held,
        "sizes": sizes,
        "current": {"threshold": grouper.threshold, "cross_language": grouper.cross_language},
        "without_offset": None if same_only is None else {  # what the offset adds, for the record
            "threshold": same_only[1], "tune": tune[same_only],
            "held": scores(grouper, halves["held"], (same_only[1],), (0.0,))[0.0, same_only[1]]},
        "tune_curve": {f"{o:.2f}/{t:.2f}": r for (o, t), r in tune.items()},
    }  # fmt: skip
