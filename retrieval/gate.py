"""The refusal gate: how relevant the best passage must be for a message to be answered.

One threshold does not fit every message. Measured on the tune half of
tests/data/answers.jsonl (multilingual-e5-small, relevance as in stages.relevance):

- A long, chatty message ("我今年28岁，去年冬天…，想问问这种情况到底能不能恢复啊？")
  spreads its meaning over several statements, so its best passage rises less above
  the background than a short question's does: answerable long Chinese messages scored
  0.032 to 0.092, unanswerable ones -0.008 to 0.028, while short questions need about
  0.05 to be told from unanswerable ones.
- Scores are not on one scale across languages either: answerable English questions
  scored 0.093 and up, and unanswerable English ones up to 0.103.

So the threshold is a base (`min_score`) plus offsets: one per question language
("en": added for English questions) and one for long messages ("long": added for a
message of LONG_CLAUSES clauses or more). `articlebot calibrate` chooses all of them on
labelled data (calibrate.py), and ARTICLEBOT_MIN_SCORE / ARTICLEBOT_MIN_SCORE_OFFSETS
override the model's defaults (embeddings/registry.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from common.text import CJK

LONG_CLAUSES = 3  # a message of this many clauses or more is "long"
LONG = "long"  # the offsets' key for long messages (the others are language codes)
KEYS = ("zh", "en", LONG)  # the offsets there are: the languages common.text.detect_language tells, and long messages

_CLAUSE_END = "，,。！!？?；;～~…\n"
_CLAUSE_RE = re.compile(f"(?<=[{_CLAUSE_END}])|(?<=[{CJK}])\\s+|\\s+(?=[{CJK}])|(?<=[.])\\s+")


def clauses(text: str) -> list[str]:
    """The clauses of a message: split after punctuation, and at white space next to
    Chinese (chatty Chinese often separates its statements with spaces only)."""
    strip = " " + _CLAUSE_END + "."
    return [part.strip() for part in _CLAUSE_RE.split(text) if part and part.strip(strip)]


def is_long(text: str) -> bool:
    """Whether a message says several things (LONG_CLAUSES clauses or more)."""
    return len(clauses(text)) >= LONG_CLAUSES


def threshold(min_score: float, offsets: Mapping[str, float], text: str, lang: str) -> float:
    """The relevance the best passage must reach for `text` (in language `lang`) to be answered."""
    return cut(min_score, offsets, lang, long=is_long(text))


def cut(min_score: float, offsets: Mapping[str, float], lang: str, *, long: bool = False) -> float:
    """The threshold for a message in `lang`, long or not."""
    return min_score + offsets.get(lang, 0.0) + (offsets.get(LONG, 0.0) if long else 0.0)


def parse_offsets(spec: str) -> dict[str, float]:
    """ "en=0.05,long=-0.02" -> {"en": 0.05, "long": -0.02}; raises ValueError when malformed."""
    out: dict[str, float] = {}
    for part in re.split(r"[,\s]+", spec.strip()):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not re.fullmatch(r"[a-z]{2,5}", key.strip()):
            raise ValueError(f"{part!r} is not KEY=NUMBER (KEY: {', '.join(KEYS[:-1])} or {KEYS[-1]})")
        if key.strip() not in KEYS:  # "fr=0.1" or "lnog=…" would otherwise be taken and never used
            raise ValueError(f"{part!r}: {key.strip()!r} is not an offset (use {', '.join(KEYS[:-1])} or {KEYS[-1]})")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{part!r}: {value.strip()!r} is not a number") from None
        if not (math.isfinite(number) and -1.0 <= number <= 1.0):  # it moves a cosine threshold, within [-1, 1]
            raise ValueError(f"{part!r}: the offset must be a number from -1 to 1")
        out[key.strip()] = number
    return out


def format_offsets(offsets: Mapping[str, float]) -> str:
    """The inverse of parse_offsets."""
    return ",".join(f"{key}={value:+.3f}" for key, value in sorted(offsets.items()))
