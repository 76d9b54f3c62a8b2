"""The answer pipeline shared by the terminal chat, `articlebot ask` and the Telegram bot:
tidy the question, search, choose the passages, check for red flags."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from dataclasses import dataclass

from common.text import (
    detect_language,
    fold,
    normalize_space,
    split_sentences,
    strip_controls,
)
from retrieval.passages import choose, choose_more
from retrieval.records import Answer
from retrieval.safety import RedFlags
from retrieval.search import Searcher

MAX_QUESTION_CHARS = 1000
MORE_PAGE = 2  # passages per "more" page


def tidy_question(raw: str) -> str:
    """NFC, no control or invisible characters, white space collapsed."""
    return normalize_space(strip_controls(unicodedata.normalize("NFC", raw or "")))


def without_repeats(question: str) -> str:
    """The question with sentences it repeats said once: "我很担心。" four hundred times
    adds no meaning, and would drown the question in search."""
    seen: set[str] = set()
    kept = []
    for sentence in split_sentences(question):
        key = fold(sentence)
        if key not in seen:
            seen.add(key)
            kept.append(sentence)
    return " ".join(kept) if detect_language(question) == "en" else "".join(kept)


@dataclass
class Pipeline:
    """Question in, `Answer` out."""

    searcher: Searcher
    min_score: float
    top_k: int = 5
    red_flags: RedFlags | None = None

    def __post_init__(self):
        if self.red_flags is None:
            self.red_flags = RedFlags.load()

    def answer(self, raw_question: str) -> Answer:
        """Answer one question (never raises for odd input: empty, huge, odd Unicode)."""
        question = tidy_question(raw_question)
        lang = detect_language(question)
        if not any(ch.isalnum() for ch in question):
            return Answer(question, lang, refused=True, hits=[], empty=True)
        truncated_at = None
        if len(question) > MAX_QUESTION_CHARS:
            question = question[:MAX_QUESTION_CHARS]
            truncated_at = MAX_QUESTION_CHARS
        hits = self.searcher.search(without_repeats(question), self.top_k)
        answer = choose(question, hits, lang, self.min_score)
        answer.truncated_at = truncated_at
        answer.safety = self.red_flags.assess(question)
        return answer

    def more(self, question: str, lang: str, shown: Collection[str]) -> Answer:
        """The next relevant passages for a question, skipping the chunks already quoted."""
        hits = self.searcher.search(question, len(shown) + 2 * MORE_PAGE + 1)  # enough to tell if a page follows
        return choose_more(question, hits, lang, self.min_score, shown=set(shown), page=MORE_PAGE)
