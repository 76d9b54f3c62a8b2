"""Red flags: emergencies first, and no personal medical advice.

The rules live in a data file (`redflags.toml` beside this module, or a copy an
operator points ARTICLEBOT_REDFLAGS at) so they can be edited without code.

Matching. The message is normalised: NFKC (full-width letters and digits become
plain ones), lower case, and every run of characters that is not a letter or digit
becomes one space; spaces between two Chinese characters are then dropped, so
"胸 口 痛" reads as "胸口痛". A rule matches when one of its phrases does. A phrase is
parts joined by " + ", all of which must occur (in any order); a part is
alternatives joined by "|". A Chinese alternative matches as a substring; an
English one matches at a word start (so "breath" also finds "breathing"). An
occurrence counts only if no negation stands just before it: 没有/没/不/无/未/否认
within the four characters before (question forms such as 是不是, 会不会, 有没有
do not count as negations), or no/not/without/never/don't/didn't among the three
words before. Emergency categories are checked in file order; the first that
matches is the one reported. Requests for a personal dose, prescription or
diagnosis match the [advice] rule.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from common.text import CJK

DEFAULT_RULES = Path(__file__).resolve().parent / "redflags.toml"

_ZH_NEGATIONS = ("没有", "没", "不", "无", "未", "否认", "并非")
_EN_NEGATIONS = {"no", "not", "without", "never", "don't", "dont", "didn't", "didnt", "isn't", "isnt", "haven't", "havent"}


class RulesError(Exception):
    """The red-flag file cannot be read or is malformed."""


def normalise(text: str) -> str:
    """Lower case, NFKC, punctuation to single spaces, no spaces between Chinese characters."""
    text = unicodedata.normalize("NFKC", text or "").lower().replace("’", "'")
    text = re.sub(r"[^\w']+", " ", text)
    text = re.sub(rf"(?<=[{CJK}]) (?=[{CJK}])", "", text)
    return f" {text.strip()} "


@dataclass
class Part:
    alternatives: list[str]

    def found(self, text: str) -> bool:
        return any(_occurs(alt, text) for alt in self.alternatives)


@functools.lru_cache(maxsize=4096)
def _pattern(needle: str) -> tuple[re.Pattern, bool]:
    chinese = bool(re.search(f"[{CJK}]", needle))
    return re.compile(re.escape(needle) if chinese else r"(?<![a-z0-9'])" + re.escape(needle)), chinese


def _occurs(needle: str, text: str) -> bool:
    if needle not in text:  # the common case, and much cheaper than the regex
        return False
    pattern, chinese = _pattern(needle)
    for match in pattern.finditer(text):
        before = text[: match.start()]
        if chinese:
            # "是不是", "会不会", "有没有" ask a question; they do not negate
            window = re.sub(r"(.)[不没]\1|有没有|是否", "", before[-7:])[-4:]
            if any(neg in window for neg in _ZH_NEGATIONS):
                continue
        else:
            if _EN_NEGATIONS & set(before.split()[-3:]):
                continue
        return True
    return False


@dataclass
class Rule:
    """One category: phrases, and the notice shown when it matches."""

    name: str
    phrases: list[list[Part]]
    notice: dict[str, str]

    def matches(self, text: str) -> bool:
        return any(all(part.found(text) for part in phrase) for phrase in self.phrases)


@dataclass
class Assessment:
    """What the safety rules say about a message."""

    emergency: str | None = None  # the category, e.g. "stroke"
    advice: bool = False  # asks for a personal dose, prescription or diagnosis
    notices: dict[str, str] | None = None  # emergency notice per language, from the rules file
    advice_notices: dict[str, str] | None = None  # the "no personal advice" caveat per language, when `advice`


class RedFlags:
    """The loaded rules."""

    def __init__(self, emergencies: list[Rule], advice: Rule | None):
        self.emergencies = emergencies
        self.advice = advice

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES) -> RedFlags:
        try:
            data = tomllib.loads(Path(path).read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise RulesError(f"Cannot read the red-flag rules in {path}: {exc}") from None
        numbers = {k: str(v) for k, v in data.get("numbers", {}).items()}

        def rule(name: str, body: dict) -> Rule:
            try:
                notice = {lang: body[f"{lang}_notice"].format(**numbers) for lang in ("zh", "en")}
                phrases = [
                    [Part([normalise(a).strip() for a in part.split("|") if a.strip()]) for part in phrase.split(" + ")]
                    for phrase in body["phrases"]
                ]
            except (KeyError, IndexError, ValueError) as exc:
                raise RulesError(f"The red-flag rule {name!r} in {path} is incomplete: {exc}") from None
            return Rule(name, phrases, notice)

        emergencies = [rule(name, body) for name, body in data.get("emergency", {}).items()]
        advice = rule("advice", data["advice"]) if "advice" in data else None
        return cls(emergencies, advice)

    def assess(self, message: str) -> Assessment:
        """Check a message against every rule."""
        text = normalise(message)
        result = Assessment()
        for rule in self.emergencies:
            if rule.matches(text):
                result.emergency = rule.name
                result.notices = rule.notice
                break
        if self.advice and self.advice.matches(text):
            result.advice = True
            result.advice_notices = self.advice.notice
        return result
