"""Where conversations are recorded: `logs.db` (SQLite) in the data directory.

For now this keeps what the Telegram bot needs: each exchange (question, reply,
language, refused flag, the chunk ids it quoted) and the 👍/👎 feedback attached
to it later, plus what the "more" button needs to find the question again.
Schema changes go through named migrations, applied whenever the database is
opened. Recording never breaks answering: a failure goes to stderr and the
user still gets the reply.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import OrderedDict
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

log = logging.getLogger(__name__)


def m001_exchanges(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE exchanges (
            id TEXT PRIMARY KEY,
            ts TEXT NOT NULL,
            channel TEXT NOT NULL,
            chat_type TEXT,
            lang TEXT NOT NULL,
            question TEXT NOT NULL,
            reply TEXT NOT NULL,
            refused INTEGER NOT NULL,
            hits TEXT NOT NULL,
            feedback TEXT,
            feedback_ts TEXT
        )"""
    )


MIGRATIONS = [m001_exchanges]


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migrations this database has not seen, in order, recording each by name."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    for migration in MIGRATIONS:
        if migration.__name__ not in done:
            with conn:
                migration(conn)
                conn.execute("INSERT INTO _migrations VALUES (?, ?)", (migration.__name__, _now()))


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


@dataclass
class Exchange:
    """What the "more" button needs: the question, its language, how many hits were shown."""

    question: str
    lang: str
    shown: int


class ExchangeLog:
    """Records exchanges and feedback; keeps recent exchanges in memory for "more"."""

    MEMORY = 10_000

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, Exchange] = OrderedDict()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                migrate(conn)
        except (sqlite3.Error, OSError) as exc:
            log.error("conversation log unavailable (%s); answering continues without it", exc)

    def _connect(self) -> closing[sqlite3.Connection]:
        return closing(sqlite3.connect(self.path, timeout=2.0))

    def remember(self, exchange_id: str, exchange: Exchange) -> None:
        """Keep an exchange in memory for its "more" button (bounded)."""
        with self._lock:
            self._recent[exchange_id] = exchange
            self._recent.move_to_end(exchange_id)
            while len(self._recent) > self.MEMORY:
                self._recent.popitem(last=False)

    def recall(self, exchange_id: str) -> Exchange | None:
        """A recent exchange, from memory or (after a restart) from the database."""
        with self._lock:
            if exchange_id in self._recent:
                return self._recent[exchange_id]
        try:
            with self._connect() as conn:
                row = conn.execute("SELECT question, lang, hits FROM exchanges WHERE id = ?", (exchange_id,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        return Exchange(row[0], row[1], len(json.loads(row[2])["shown"]))

    def record(
        self,
        exchange_id: str,
        *,
        channel: str,
        chat_type: str | None,
        lang: str,
        question: str,
        reply: str,
        refused: bool,
        hits: list[dict],
        shown: list[str],
    ) -> bool:
        """Store one exchange; returns False (and logs why) when it could not be stored."""
        try:
            with self._connect() as conn, conn:
                conn.execute(
                    "INSERT INTO exchanges (id, ts, channel, chat_type, lang, question, reply, refused, hits)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        exchange_id,
                        _now(),
                        channel,
                        chat_type,
                        lang,
                        question,
                        reply,
                        int(refused),
                        json.dumps({"hits": hits, "shown": shown}, ensure_ascii=False),
                    ),
                )
            return True
        except sqlite3.Error as exc:
            log.error("could not record exchange %s: %s", exchange_id, exc)
            return False

    def feedback(self, exchange_id: str, value: str) -> bool:
        """Attach 👍 ("up") or 👎 ("down") to an exchange (the latest choice wins)."""
        try:
            with self._connect() as conn, conn:
                cur = conn.execute(
                    "UPDATE exchanges SET feedback = ?, feedback_ts = ? WHERE id = ?", (value, _now(), exchange_id)
                )
            return cur.rowcount == 1
        except sqlite3.Error as exc:
            log.error("could not record feedback for %s: %s", exchange_id, exc)
            return False
