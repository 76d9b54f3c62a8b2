"""Writing the conversation log: every exchange (Telegram, `ask`, `chat`) and its feedback.

Recording never breaks answering and never loses a row: callers record after the
reply has gone out (or failed to); a write that finds the database locked by other
writers is retried with jittered back-off (RETRY_ATTEMPTS times); a write that
still fails (locked for long, full disk, server down) is said on stderr with the
exchange as JSON and kept in a spool file (JSON lines beside the SQLite file, or
the file given), which the next successful write of any process empties into the log.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from common.clock import utc_stamp
from convlog.database import (
    BUSY_SECONDS,
    LogError,
    create_engine,
    display_url,
    first_line,
    locked_file,
    migrate,
    sqlite_path,
)
from convlog.pseudonyms import pseudonym
from convlog.records import ExchangeBrief, ExchangeRecord, LoggedHit
from convlog.schema import exchanges, hits

RETRY_ATTEMPTS = 6  # a locked write is tried this many times (each waits up to busy_seconds for the lock)


def _contended(exc: SQLAlchemyError) -> bool:
    """A write that lost a race for the lock (worth retrying), not a broken database."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    return isinstance(exc, OperationalError) and any(
        sign in text for sign in ("database is locked", "database table is locked", "lock timeout", "lock_timeout",
                                  "could not obtain lock", "deadlock", "could not serialize")
    )  # fmt: skip


def _unreachable(url: str, exc: OperationalError) -> bool:
    """Whether opening a server's database failed for want of the server (down, not started
    yet, no route), not for a setting a person must change (password, database name)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    wrong = ("authentication failed", "does not exist", "no password supplied", "permission denied", "invalid")
    return not url.startswith("sqlite") and not any(sign in text for sign in wrong)


def _entry_of(data: dict) -> ExchangeRecord:
    """An exchange read back from the spool."""
    return ExchangeRecord(**{**data, "hits": [LoggedHit(**h) for h in data.get("hits") or []]})


class ConversationLog:
    """Writes exchanges and feedback; opening it applies pending migrations."""

    MEMORY = 10_000  # exchanges announced but not written yet, and their early feedback
    RETRY_OPEN_SECONDS = 30.0  # a server that could not be reached is tried again at most this often

    def __init__(self, url: str, *, salt: str = "", raw_user_ids: bool = False, busy_seconds: float = BUSY_SECONDS,
                 spool: Path | None = None, wait_for_server: bool = False):
        """`wait_for_server` (the bot's log): a database server that cannot be reached yet is no
        error; the exchanges go to the spool until it can be, tried again with the next exchange
        every RETRY_OPEN_SECONDS at most. Otherwise (the `logs` commands, the console) it is."""
        self.url = url
        self.salt = salt
        self.raw_user_ids = raw_user_ids
        dialect = postgresql if url.startswith("postgresql") else sqlite
        # a write only (no read first, which SQLite could not upgrade to a write under contention)
        self._insert_new = dialect.insert(exchanges).on_conflict_do_nothing(index_elements=["id"])
        db = sqlite_path(url)
        # where rows that could not be written wait for the next successful write (None: stderr only)
        self.spool = Path(spool) if spool else (db.with_suffix(".unwritten.jsonl") if db else None)
        self._expected: OrderedDict[str, None] = OrderedDict()  # answered here, row still to come
        self._pending_feedback: OrderedDict[str, tuple[str, str]] = OrderedDict()  # for rows not written yet
        self._lock = threading.Lock()
        self._open, self._retry_at = False, 0.0
        try:
            self.engine = create_engine(url, busy_seconds)
            migrate(self.engine)
            self._open = True
        except OperationalError as exc:
            if not (wait_for_server and self.spool is not None and _unreachable(url, exc)):
                raise LogError(f"Cannot open the conversation log at {display_url(url)}: {first_line(exc)}") from None
            self._retry_at = time.monotonic() + self.RETRY_OPEN_SECONDS
            print(f"articlebot: the conversation log at {display_url(url)} cannot be reached ({first_line(exc)}); "
                  f"exchanges are kept in {self.spool} and written to it once it can be", file=sys.stderr)  # fmt: skip
        except (SQLAlchemyError, OSError) as exc:
            raise LogError(f"Cannot open the conversation log at {display_url(url)}: {first_line(exc)}") from None

    def _ready(self) -> bool:
        """Whether the log is open; a server that could not be reached is tried again (migrating
        first) when RETRY_OPEN_SECONDS have passed."""
        if self._open:
            return True
        with self._lock:
            if self._open or time.monotonic() < self._retry_at:
                return self._open
            self._retry_at = time.monotonic() + self.RETRY_OPEN_SECONDS
        try:
            migrate(self.engine)
        except (SQLAlchemyError, OSError):
            return False
        self._open = True
        print(f"articlebot: the conversation log at {display_url(self.url)} can be reached now", file=sys.stderr)
        return True

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
        """Store one exchange with its hits (retrying while other writers hold the lock); on
        failure say so on stderr, keep it in the spool, and return False. The exchange itself
        (what the user wrote) goes to stderr only when the spool could not keep it: the last
        place it is not lost."""
        with self._lock:  # a 👍/👎 that arrived before this row was written
            self._expected.pop(entry.id, None)
            pending = self._pending_feedback.pop(entry.id, None)
        if pending:
            entry.feedback, entry.feedback_ts = pending
        error = self._write(entry) if self._ready() else "it cannot be reached"
        if error is None:
            self._drain_spool()
            return True
        kept = self._to_spool(entry)
        if kept:
            self.expect(entry.id)  # a 👍/👎 for it is kept too, and written with it (_drain_spool)
        where = f"kept in {self.spool} until the log can be written" if kept else "not kept"
        print(
            f"articlebot: could not write exchange {entry.id} to the conversation log ({error}); "
            f"the reply was {'not ' if entry.delivery_error else ''}sent; the exchange is {where}."
            + ("" if kept else f" Exchange: {json.dumps(asdict(entry), ensure_ascii=False)}"),
            file=sys.stderr,
        )
        return False

    def _write(self, entry: ExchangeRecord, *, attempts: int = RETRY_ATTEMPTS) -> str | None:
        """Insert an exchange; None on success (or if it is there already), else why not."""
        row = {k: v for k, v in asdict(entry).items() if k != "hits"}
        for attempt in range(attempts):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(self._insert_new, row).rowcount == 0:
                        return None  # written before (a spooled row replayed twice)
                    if entry.hits:
                        conn.execute(
                            hits.insert(),
                            [{"exchange_id": entry.id, "rank": n, **asdict(h)} for n, h in enumerate(entry.hits, 1)],
                        )
                return None
            except SQLAlchemyError as exc:
                if not _contended(exc) or attempt == attempts - 1:
                    return first_line(exc)
            except (UnicodeError, ValueError, TypeError) as exc:  # text no database takes: never raised to the channel
                return f"{type(exc).__name__}: {exc}"
            time.sleep(random.uniform(0.5, 1.5) * min(0.05 * 2**attempt, 1.0))  # jittered: the writers spread out
        return "not written"

    def _to_spool(self, entry: ExchangeRecord) -> bool:
        if self.spool is None:
            return False
        try:
            line = json.dumps(asdict(entry), ensure_ascii=True)  # ASCII: even odd text round-trips
            self.spool.parent.mkdir(parents=True, exist_ok=True)
            with locked_file(self.spool, "a") as fh:
                fh.write(line + "\n")
            return True
        except OSError:
            return False

    def _drain_spool(self) -> None:
        """Write the rows that earlier writes could not (any process's), then empty the spool.
        The file is emptied under its lock, never removed: a process waiting to append to it
        would otherwise append to a removed file."""
        try:
            if self.spool is None or self.spool.stat().st_size == 0:
                return
            with locked_file(self.spool, "r+") as fh:
                lines = [line for line in fh.read().splitlines() if line.strip()]
                left = []
                for line in lines:
                    try:
                        entry = _entry_of(json.loads(line))
                    except (ValueError, TypeError):
                        left.append(line)  # kept for a person to look at, never dropped
                        continue
                    with self._lock:  # a 👍/👎 given while it waited here
                        pending = self._pending_feedback.pop(entry.id, None)
                    if pending:
                        entry.feedback, entry.feedback_ts = pending
                        line = json.dumps(asdict(entry), ensure_ascii=True)
                    if self._write(entry, attempts=2) is not None:
                        left.append(line)
                    else:
                        with self._lock:
                            self._expected.pop(entry.id, None)
                fh.seek(0)
                fh.truncate()
                fh.write("".join(f"{line}\n" for line in left))
        except OSError:  # none yet (FileNotFoundError), or unreadable:
            pass  # tried again after the next successful write

    def feedback(self, exchange_id: str, value: str) -> bool:
        """Attach 👍 ("up") or 👎 ("down") to an exchange; the latest choice wins.

        If the exchange is announced but not written yet (the press came first), the
        choice is kept and written with it.
        """
        stamp = utc_stamp()
        try:
            done = 0
            if self._ready():
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
        if not self._ready():
            return None
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
        return ExchangeBrief(row.searched or row.question, row.lang, tuple(shown), row.question)

