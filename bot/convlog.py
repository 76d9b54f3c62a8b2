"""The conversation log: every exchange (Telegram, `ask`, `chat`) and its feedback.

Stored in SQLite (`logs.db` in the data directory) by default, or PostgreSQL when
ARTICLEBOT_LOG_URL is a ``postgresql://`` URL so that several bot instances share
one log. Both go through SQLAlchemy; the schema changes only through the named
Alembic migrations in ``bot/migrations/versions``, applied whenever the log is
opened (a database from the first release, with its ``_migrations`` table, is
recognised and upgraded).

Users are pseudonymous: a user id is stored as a salted HMAC unless the operator
opts in to raw ids. Recording never breaks answering: callers record after the
reply has gone out, and a failure (locked database, full disk, server down) is
written to stderr, with the exchange itself as JSON so that it is not lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import sys
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0003"
BUSY_SECONDS = 5.0  # how long a write waits for a lock before giving up (then: stderr)
MIGRATION_LOCK = 0x61727469636C65  # PostgreSQL advisory lock id held while migrating ("article")

metadata = sa.MetaData()
exchanges = sa.Table(
    "exchanges",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("ts", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text),
    sa.Column("chat_type", sa.Text),
    sa.Column("lang", sa.Text, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("reply", sa.Text, nullable=False),
    sa.Column("refused", sa.Boolean, nullable=False),
    sa.Column("emergency", sa.Boolean, nullable=False),
    sa.Column("latency_ms", sa.Integer),
    sa.Column("model", sa.Text),
    sa.Column("index_version", sa.Text),
    sa.Column("feedback", sa.Text),
    sa.Column("feedback_ts", sa.Text),
)
hits = sa.Table(
    "hits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("exchange_id", sa.Text, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("chunk_id", sa.Text, nullable=False),
    sa.Column("article", sa.Text, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("shown", sa.Boolean, nullable=False),
)


class LogError(Exception):
    """The log cannot be opened (bad URL, server unreachable, not a database)."""


def utc_stamp(moment: datetime | None = None) -> str:
    """UTC time as sortable text, the same in SQLite and PostgreSQL: 2026-11-21T19:00:00Z."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_url(data_dir: Path, url: str | None) -> str:
    """The SQLAlchemy URL of the log: ARTICLEBOT_LOG_URL, or logs.db in the data directory."""
    if not url:
        return f"sqlite:///{Path(data_dir) / 'logs.db'}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("postgresql+", "sqlite:")):
        return url
    raise LogError(f"ARTICLEBOT_LOG_URL must be a postgresql:// or sqlite:/// URL, not {url.split(':', 1)[0]}://...")


def _engine(url: str, busy_seconds: float) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": busy_seconds, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            cur.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    # A write never waits on a lock for ever: past these the statement fails (and goes to stderr).
    options = f"-c lock_timeout={int(busy_seconds * 1000)} -c statement_timeout={int(busy_seconds * 2000)}"
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=40, connect_args={"connect_timeout": 10, "options": options}
    )


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (recognising a first-release database).

    Several instances may start at once: PostgreSQL migrations run under an advisory
    lock, SQLite ones under a lock file beside the database.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    with _migration_lock(engine), engine.connect() as conn:
        if sqlite:
            # Batch migrations rebuild tables; with foreign keys on, dropping the old
            # exchanges table would cascade into hits. (A no-op inside a transaction.)
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        with conn.begin():
            if not sqlite:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            tables = set(sa.inspect(conn).get_table_names())
            config.attributes["connection"] = conn
            if "_migrations" in tables and "alembic_version" not in tables:
                command.stamp(config, "0001")
            command.upgrade(config, "head")
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


@contextmanager
def _migration_lock(engine: sa.Engine):
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.migrate.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pseudonym(user: int | str, salt: str) -> str:
    """A stable, salted, one-way id for a user."""
    return hmac.new(salt.encode(), str(user).encode(), hashlib.sha256).hexdigest()[:16]


def load_salt(data_dir: Path, configured: str | None) -> str:
    """ARTICLEBOT_LOG_SALT, or a random salt kept in the data directory (created once)."""
    if configured:
        return configured
    path = Path(data_dir) / "log-salt"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_hex(16)
        path.touch(mode=0o600)
        path.write_text(salt + "\n")
        return salt


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
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    ts: str = field(default_factory=utc_stamp)


def record_of(answer, *, channel: str, latency_ms: int, model: str | None, index_version: str | None,
              user_id: str | None = None, chat_type: str | None = None, reply: str | None = None) -> ExchangeRecord:
    """The log entry for a `retrieval.compose.Answer` (reply defaults to its plain-text rendering)."""
    shown = {p.hit.chunk_id for p in answer.passages}
    return ExchangeRecord(
        channel=channel,
        lang=answer.lang,
        question=answer.question,
        reply=answer.text if reply is None else reply,
        refused=answer.refused,
        hits=[LoggedHit(h.chunk_id, h.article, h.title, round(float(h.score), 4), h.chunk_id in shown) for h in answer.hits],
        latency_ms=latency_ms,
        model=model,
        index_version=index_version,
        user_id=user_id,
        chat_type=chat_type,
        emergency=bool(answer.emergency),
    )


@dataclass
class Recent:
    """What the "more" button needs: the question, its language, the chunks already quoted."""

    question: str
    lang: str
    shown: tuple[str, ...]


class ConversationLog:
    """Writes exchanges and feedback; opening it applies pending migrations."""

    MEMORY = 10_000

    def __init__(self, url: str, *, salt: str = "", raw_user_ids: bool = False, busy_seconds: float = BUSY_SECONDS):
        self.url = url
        self.salt = salt
        self.raw_user_ids = raw_user_ids
        self._recent: OrderedDict[str, Recent] = OrderedDict()
        self._pending_feedback: OrderedDict[str, tuple[str, str]] = OrderedDict()  # for rows not written yet
        self._lock = threading.Lock()
        try:
            self.engine = _engine(url, busy_seconds)
            migrate(self.engine)
        except (SQLAlchemyError, OSError) as exc:
            raise LogError(f"Cannot open the conversation log at {sa.make_url(url).render_as_string(hide_password=True)}: {_first_line(exc)}") from None

    def close(self) -> None:
        self.engine.dispose()

    def user(self, raw: int | str | None) -> str | None:
        """How a user is stored: pseudonym by default, the raw id when the operator opted in."""
        if raw is None:
            return None
        return str(raw) if self.raw_user_ids else pseudonym(raw, self.salt)

    def record(self, entry: ExchangeRecord) -> bool:
        """Store one exchange with its hits; on failure say so on stderr (with the exchange) and return False."""
        with self._lock:
            known = entry.id in self._recent  # a "more" press may already have moved it on
        if not known:
            self.remember(entry.id, Recent(entry.question, entry.lang, tuple(h.chunk_id for h in entry.hits if h.shown)))
        row = {k: v for k, v in asdict(entry).items() if k != "hits"}
        with self._lock:  # a 👍/👎 that arrived before this row was written
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
                f"articlebot: could not write exchange {entry.id} to the conversation log ({_first_line(exc)}); "
                f"the reply was sent. Exchange: {json.dumps(asdict(entry), ensure_ascii=False)}",
                file=sys.stderr,
            )
            return False

    def feedback(self, exchange_id: str, value: str) -> bool:
        """Attach 👍 ("up") or 👎 ("down") to an exchange; the latest choice wins.

        If the exchange is not written yet (the press came first), the choice is
        kept and written with it.
        """
        stamp = utc_stamp()
        try:
            with self.engine.begin() as conn:
                done = conn.execute(
                    exchanges.update().where(exchanges.c.id == exchange_id).values(feedback=value, feedback_ts=stamp)
                ).rowcount
            if done == 0:
                with self._lock:
                    if exchange_id in self._recent:  # answered here, row still to come
                        self._pending_feedback[exchange_id] = (value, stamp)
                        while len(self._pending_feedback) > self.MEMORY:
                            self._pending_feedback.popitem(last=False)
                        return True
            return done == 1
        except SQLAlchemyError as exc:
            print(f"articlebot: could not record feedback {value} for {exchange_id}: {_first_line(exc)}", file=sys.stderr)
            return False

    def remember(self, exchange_id: str, recent: Recent) -> None:
        """Keep an exchange in memory for its "more" button (bounded)."""
        with self._lock:
            self._recent[exchange_id] = recent
            self._recent.move_to_end(exchange_id)
            while len(self._recent) > self.MEMORY:
                self._recent.popitem(last=False)

    def recall(self, exchange_id: str) -> Recent | None:
        """A recent exchange, from memory or (after a restart, or another instance) from the log."""
        with self._lock:
            if exchange_id in self._recent:
                return self._recent[exchange_id]
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(exchanges.c.question, exchanges.c.lang).where(exchanges.c.id == exchange_id)
                ).first()
                if row is None:
                    return None
                shown = conn.execute(
                    sa.select(hits.c.chunk_id).where(hits.c.exchange_id == exchange_id, hits.c.shown).order_by(hits.c.rank)
                ).scalars().all()
        except SQLAlchemyError:
            return None
        return Recent(row.question, row.lang, tuple(shown))


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
