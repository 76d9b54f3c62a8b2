"""Words people use for a symptom, mapped to the words health articles use for it.

A worried message says "笑起来嘴巴有点歪", "咬东西没劲", "喂奶期间"; the articles write
面瘫 / 口角歪斜, 咀嚼无力, 哺乳期. Neither BM25 (character bigrams) nor the small
embedding model links them reliably, so the message is found by a passage that shares
its everyday words (an article about something else that happens to say "skewed" or
"一边") rather than the one about its symptom. This is query expansion with a
consumer-health vocabulary: a question that matches an entry of
data/lay_terms_zh.tsv (and of an operator's own file, ARTICLEBOT_LAY_TERMS) is searched
with the entry's article words added, those of them that the corpus uses (every
character pair of the word occurs in some passage): an expansion the corpus cannot
match would only dilute the question. What is logged and remembered as the
conversation's question is the message as searched without them (pipeline.py).
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from common.text import tokenize

log = logging.getLogger(__name__)

ENV = "ARTICLEBOT_LAY_TERMS"

Entry = tuple[re.Pattern[str], tuple[str, ...]]


def parse(text: str, source: str = "") -> list[Entry]:
    """The entries of a lay-terms file (see data/lay_terms_zh.tsv); a malformed line is logged and skipped."""
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        pattern, _, words = line.partition("\t")
        terms = tuple(w.strip() for w in words.split(";") if w.strip())
        try:
            compiled = re.compile(pattern.strip())
        except re.error as exc:
            log.warning("%s line %d: not a regular expression (%s); skipped", source or "lay terms", n, exc)
            continue
        if not terms or not pattern.strip():
            log.warning("%s line %d: needs a pattern, a tab and words; skipped", source or "lay terms", n)
            continue
        entries.append((compiled, terms))
    return entries


@functools.cache
def _entries(extra: str | None) -> tuple[Entry, ...]:
    text = resources.files("retrieval").joinpath("data/lay_terms_zh.tsv").read_text("utf-8")
    entries = parse(text, "data/lay_terms_zh.tsv")
    if extra:
        try:
            entries += parse(Path(extra).read_text("utf-8"), extra)
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("%s=%s cannot be read (%s); using the bundled lay terms only", ENV, extra, exc)
    return tuple(entries)


def entries() -> tuple[Entry, ...]:
    """The bundled entries, then the operator's (ARTICLEBOT_LAY_TERMS), if any."""
    return _entries(os.environ.get(ENV) or None)


def article_words(text: str, known: Callable[[str], bool]) -> list[str]:
    """The article words for the everyday words of `text` (simplified characters) that the
    corpus uses (`known`: whether a search token occurs in it) and `text` does not already hold."""
    out: dict[str, None] = {}
    for pattern, terms in entries():
        if pattern.search(text):
            for term in terms:
                tokens = tokenize(term)
                if term not in text and tokens and all(known(t) for t in tokens):
                    out[term] = None
    return list(out)


def expand(text: str, known: Callable[[str], bool]) -> str:
    """`text` with its article words added at the end ("…嘴巴有点歪（面瘫，口角歪斜）"); as it was without any."""
    words = article_words(text, known)
    return f"{text}（{'，'.join(words)}）" if words else text
