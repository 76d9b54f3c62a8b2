"""Records of the log: an exchange (question, reply, outcome) and the passages retrieved for it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from common.clock import utc_stamp

if TYPE_CHECKING:
    from retrieval.records import Answer


@dataclass
class LoggedHit:
    """A retrieved passage as logged."""

    chunk_id: str
    article: str
    title: str
    score: float
    shown: bool


@dataclass
class ExchangeRecord:
    """One question and its reply, as written to the log."""

    channel: str
    lang: str
    question: str
    reply: str
    refused: bool
    hits: list[LoggedHit]
    latency_ms: int
    model: str | None = None
    index_version: str | None = None
    user_id: str | None = None
    chat_type: str | None = None
    emergency: bool = False
    searched: str | None = None  # the question as searched, when it was not the message as sent (a follow-up, typos mended)
    follow_up: bool = False  # read with the conversation's previous question (`searched` then holds both)
    delivery_error: str | None = None  # why the reply could not be delivered (None: it was)
    feedback: str | None = None  # "up" / "down" when it came before the row was written
    feedback_ts: str | None = None
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    ts: str = field(default_factory=utc_stamp)


@dataclass
class ExchangeBrief:
    """What a follow-up needs of a logged exchange: the question as searched, its language, the
    chunks quoted, and the message as written (its script sets the reply's, presentation.texts)."""

    question: str
    lang: str
    shown: tuple[str, ...]
    written: str = ""


def read_with_context(searched: str | None, follow_up: bool | None) -> bool:
    """Whether a logged exchange was read with the conversation's previous question: its
    `follow_up`, or for a row logged before that was recorded (None), whether it was searched in
    another form (such a log cannot tell a follow-up from a question whose typos were mended)."""
    return bool(searched) if follow_up is None else bool(follow_up)


def record_of(answer: Answer, *, channel: str, reply: str, latency_ms: int, model: str | None,
              index_version: str | None, user_id: str | None = None, chat_type: str | None = None) -> ExchangeRecord:
    """The log entry for a `retrieval.records.Answer` and the reply that was sent for it."""
    shown = {p.hit.chunk_id for p in answer.passages}
    return ExchangeRecord(
        channel=channel,
        lang=answer.lang,
        question=answer.message or answer.question,  # the whole message, also where only its start was searched
        reply=reply,
        refused=answer.refused,
        hits=[LoggedHit(h.chunk_id, h.article, h.title, round(float(h.score), 4), h.chunk_id in shown) for h in answer.hits],
        latency_ms=latency_ms,
        model=model,
        index_version=index_version,
        user_id=user_id,
        chat_type=chat_type,
        emergency=bool(answer.emergency),
        searched=answer.searched if answer.searched and answer.searched != answer.question else None,
        follow_up=answer.followed,
    )
