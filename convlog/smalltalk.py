"""Small talk: logged messages that ask nothing (greetings, thanks, messages with no words).

The bot answers them in kind, and the log records them as refused (no passage quoted). They
are no question the articles failed, so every count and filter of refusals leaves them out:
`logs stats`, `logs list --refused`, `logs export --refused`, and the console's overview and
"not covered" outcome (convlog.review), the content gaps (insights.gaps) and the draft
labelled set (`convlog.export.label_line`). This module is the one definition they share.
"""

from __future__ import annotations

import functools

NO_WORDS, GREETING = "no_words", "greeting"  # the kinds of small talk (insights.gaps counts them by these names)
SMALL_TALK_CHARS = 60  # a message longer than this is never taken for small talk (greetings are short)


def kind(message: str) -> str | None:
    """NO_WORDS (no letter: blank, emoji, digits, punctuation), GREETING (greetings, thanks
    and other pleasantries only, `retrieval.followup.is_social`), or None: it may ask something."""
    if not any(ch.isalpha() for ch in message):
        return NO_WORDS
    # imported here, not at the top: `logs list` and the console's pages start without it
    from retrieval import followup

    return GREETING if followup.is_social(message) else None


@functools.lru_cache(maxsize=4096)
def asks_nothing(message: str) -> bool:
    """Whether a message is small talk by its text alone (`kind` is not None)."""
    return kind(message) is not None


def is_small_talk(row) -> bool:
    """Whether a logged exchange (a row or dict with question, refused and emergency) is small
    talk: refused, no emergency, short, and asking nothing, as convlog.review counts it."""
    question = row["question"]
    return bool(row["refused"] and not row["emergency"] and len(question) <= SMALL_TALK_CHARS and asks_nothing(question))
