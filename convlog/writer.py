"""Writing the conversation log: every exchange (Telegram, `ask`, `chat`) and its feedback.

Recording never breaks answering: callers record after the reply has gone out,
and a failure (locked database, full disk, server down) is written to stderr,
with the exchange itself as JSON so that it is not lost.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import OrderedDict
from dataclasses import asdict

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from common.clock import utc_stamp
from convlog.database import (
    BUSY_SECONDS,
    LogError,
    create_engine,
    display_url,
    first_line,
    migrate,
)
from convlog.pseudonyms import pseudonym
from convlog.records import ExchangeBrief, ExchangeRecord
from convlog.schema import exchanges, hits


class ConversationLog:
    """Writes exchanges and feedback; opening it applies pending migrations."""

    MEMORY = 10_000  # exchanges announced but not written yet, and their early feedback

    def __init__(self, url: str, *, salt: str = "", raw_user_ids: bool = False, busy_seconds: float = BUSY_SECONDS):
        self.url = url
        self.salt = salt
        self.raw_user_ids = raw_user_ids
        self._expected: OrderedDict[str, None] = OrderedDict()  # answered here, row still to come
        self._pending_feedback: OrderedDict[str, tuple[str, str]] = OrderedDict()  # for rows not written yet
        self._lock = threading.Lock()
        try:
            self.engine = create_engine(url, busy_seconds)
            migrate(self.engine)
        except (SQLAlchemyError, OSError) as exc:
            raise LogError(f"Cannot open the conversation log at {display_url(url)}: {first_line(exc)}") from None

    def close(self) -> None:
        self.engine.dispose()

    def user(self, raw: int | str | None) -> str | None:
        """How a user is stored: pseudonym by default, the raw id when the operator opted in."""
        if raw is None:
            return None
        return str(raw) if self.raw_user_ids else pseudonym(raw, self.salt)

    def expect(self, exchange_id: str) -> None:
        """Announce an exchange whose reply is going out now and whose row follows (bounded memory)."""
        with self._lock:
            self._expected[exchange_id] = None
            while len(self._expected) > self.MEMORY:
                self._expected.popitem(last=False)

    def record(self, entry: ExchangeRecord) -> bool:
        """Store one exchange with its hits; on failure say so on stderr (with the exchange) and return False."""
        row = {k: v for k, v in asdict(entry).items() if k != "hits"}
        with self._lock:  # a 👍/👎 that arrived before this row was written
            self._expected.pop(entry.id, None)
            pending = self._pending_feedback.pop(entry.id, None)
        if pending:
            row["feedback"], row["feedback_ts"] = pending
        try:
            with self.engine.begin() as conn:
                conn.execute(exchanges.insert(), row)
                if entry.hits:
                    conn.execute(
                        hits.insert(),
                        [{"exchange_id": entry.id, "rank": n, **asdict(h)} for n, h in enumerate(entry.hits, 1)],
                    )
            return True
        except SQLAlchemyError as exc:
            print(
                f"articlebot: could not write exchange {entry.id} to the conversation log ({first_line(exc)}); "
                f"the reply was sent. Exchange: {json.dumps(asdict(entry), ensure_ascii=False)}",
                file=sys.stderr,
            )
            return False

    def feedback(self, exchange_id: str, value: str) -> bool:
        """Attach 👍 ("up") or 👎 ("down") to an exchange; the latest choice wins.

        If the exchange is announced but not written yet (the press came first), the
        choice is kept and written with it.
        """
        stamp = utc_stamp()
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    exchanges.update().where(exchanges.c.id == exchange_id).values(feedback=value, feedback_ts=stamp)
                ).rowcount
            if done == 0:
                with self._lock:
                    if exchange_id in self._expected:
                        self._pending_feedback[exchange_id] = (value, stamp)
                        while len(self._pending_feedback) > self.MEMORY:
                            self._pending_feedback.popitem(last=False)
                        return True
            return done == 1
        except SQLAlchemyError as exc:
            print(f"articlebot: could not record feedback {value} for {exchange_id}: {first_line(exc)}", file=sys.stderr)
            return False

    def recall(self, exchange_id: str) -> ExchangeBrief | None:
        """A logged exchange's question (as searched), language and quoted chunks (None if unknown or unreadable)."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(exchanges.c.question, exchanges.c.searched, exchanges.c.lang).where(exchanges.c.id == exchange_id)
                ).first()
                if row is None:
                    return None
                shown = conn.execute(
                    sa.select(hits.c.chunk_id).where(hits.c.exchange_id == exchange_id, hits.c.shown).order_by(hits.c.rank)
                ).scalars().all()
        except SQLAlchemyError:
            return None
        return ExchangeBrief(row.searched or row.question, row.lang, tuple(shown))
