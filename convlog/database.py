"""Where the log lives and how it is opened: URL, engine, and the migrations run on every open.

SQLite (`logs.db` in the data directory) by default, or PostgreSQL when
ARTICLEBOT_LOG_URL is a ``postgresql://`` URL so that several bot instances share
one log. The schema changes only through the named Alembic migrations in
``migrations/versions``, applied whenever the log is opened (a database from the
first release, with its ``_migrations`` table, is recognised and upgraded).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0007"
BUSY_SECONDS = 5.0  # how long a write waits for a lock before giving up (then: stderr)
MIGRATION_LOCK = 0x61727469636C65  # PostgreSQL advisory lock id held while migrating ("article")


class LogError(Exception):
    """The log cannot be opened (bad URL, server unreachable, not a database)."""


def log_url(data_dir: Path, url: str | None) -> str:
    """The SQLAlchemy URL of the log: ARTICLEBOT_LOG_URL, or logs.db in the data directory."""
    if not url:
        return f"sqlite:///{Path(data_dir) / 'logs.db'}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("postgresql+", "sqlite:")):
        return url
    raise LogError(f"ARTICLEBOT_LOG_URL must be a postgresql:// or sqlite:/// URL, not {url.split(':', 1)[0]}://...")


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL or an in-memory database)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :]
    return Path(path) if path and path != ":memory:" else None


def display_url(url: str) -> str:
    """The URL (or SQLite file) as shown to an operator, password hidden."""
    shown = sa.make_url(url).render_as_string(hide_password=True)
    return shown[len("sqlite:///") :] if shown.startswith("sqlite:///") else shown


def create_engine(url: str, busy_seconds: float = BUSY_SECONDS) -> sa.Engine:
    """An engine whose writes wait at most `busy_seconds` for a lock (WAL and foreign keys in SQLite)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
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
    with _quiet(logging.getLogger("alembic")):  # its INFO lines ("Context impl SQLiteImpl.", plugins) at every start
        _migrate(engine)


def _migrate(engine: sa.Engine) -> None:
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
            before = _revision(conn)
            command.upgrade(config, "head")
            after = _revision(conn)
            if after != before:
                logging.getLogger(__name__).info("conversation log schema upgraded from %s to %s", before or "empty", after)
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def _revision(conn: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _quiet(logger: logging.Logger):
    """`logger` at WARNING or above for the block."""
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _migration_lock(engine: sa.Engine):
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with locked_file(Path(f"{database}.migrate.lock"), "a"):
        yield


@contextmanager
def locked_file(path: Path, mode: str):
    """`open(path, mode)` under an exclusive flock (other processes wait), released on exit."""
    import fcntl

    with open(path, mode, encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh
        finally:
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)


def first_line(exc: BaseException) -> str:
    """The first line of a database error, for one-sentence messages."""
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0]
