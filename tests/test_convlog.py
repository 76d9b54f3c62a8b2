"""The conversation log on SQLite and on a real PostgreSQL server: migrations,
recording, feedback, full-text search, concurrency and failures that must not
break answering."""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from convlog import (
    HEAD,
    ConversationLog,
    ExchangeRecord,
    LogError,
    LoggedHit,
    migrate,
    pseudonym,
)
from convlog.review import (
    Filters,
    QueryError,
    check_choice,
    get_exchange,
    iter_exchanges,
    list_exchanges,
    overview,
    page_exchanges,
    stats,
)

LEGACY_SCHEMA = """
CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL);
INSERT INTO _migrations VALUES ('m001_exchanges', '2026-11-01T10:00:00+00:00');
CREATE TABLE exchanges (
    id TEXT PRIMARY KEY, ts TEXT NOT NULL, channel TEXT NOT NULL, chat_type TEXT, lang TEXT NOT NULL,
    question TEXT NOT NULL, reply TEXT NOT NULL, refused INTEGER NOT NULL, hits TEXT NOT NULL,
    feedback TEXT, feedback_ts TEXT
);
"""


def entry(question="打瘦脸针后面瘫多久能恢复？", *, refused=False, ts=None, user="u1", channel="telegram", **kw) -> ExchangeRecord:
    hits = [] if refused else [LoggedHit("c1", "botox-facial-palsy-recovery.txt", "打瘦脸针面瘫会恢复吗?", 0.91, True),
                               LoggedHit("c2", "facial-palsy-massage-en.txt", "Facial nerve palsy massage treatment", 0.8, False)]  # fmt: skip
    extra = {"ts": ts} if ts else {}
    return ExchangeRecord(channel=channel, lang="zh", question=question, reply="回复……", refused=refused, hits=hits,
                          latency_ms=42, model="m3e-small", index_version="index-1", user_id=user, chat_type="private",
                          **extra, **kw)  # fmt: skip


def tables(engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_migrations_on_an_empty_database(log_url):
    log = ConversationLog(log_url)
    assert {"exchanges", "hits", "alembic_version"} <= tables(log.engine)
    with log.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD
    ConversationLog(log_url).close()  # opening again is a no-op
    log.close()


def test_migrations_from_the_first_release_schema(tmp_path):
    """A logs.db written by the first Telegram release (hand-rolled _migrations table) is upgraded."""
    path = tmp_path / "logs.db"
    db = sqlite3.connect(path)
    db.executescript(LEGACY_SCHEMA)
    hits = {"hits": [{"chunk_id": "c9", "article": "a.txt", "score": 0.9}, {"chunk_id": "c8", "article": "b.txt", "score": 0.7}], "shown": ["c9"]}
    db.execute("INSERT INTO exchanges VALUES ('abc', '2026-11-01T10:00:00+00:00', 'telegram', 'private', 'zh', '面瘫怎么办', '回复', 0, ?, 'down', '2026-11-01T10:01:00+00:00')", (json.dumps(hits),))
    db.commit()
    db.close()

    log = ConversationLog(f"sqlite:///{path}")
    assert "_migrations" not in tables(log.engine)
    row = get_exchange(log.engine, "abc")
    assert row["question"] == "面瘫怎么办" and row["feedback"] == "down"
    assert row["ts"] == "2026-11-01T10:00:00Z"
    assert row["refused"] is False and row["emergency"] is False
    assert [(h["chunk_id"], h["shown"]) for h in row["hits"]] == [("c9", True), ("c8", False)]
    assert list_exchanges(log.engine, Filters(text="面瘫怎"), 5)[0]["id"] == "abc"  # full-text index backfilled


def test_upgrade_from_the_previous_revision_keeps_rows(log_url):
    """The same migrations serve both databases: rows written under revision 0001 survive the upgrade."""
    from alembic import command
    from alembic.config import Config

    from convlog import MIGRATIONS

    engine = sa.create_engine(log_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(sa.text("INSERT INTO exchanges VALUES ('old1', '2026-10-01T00:00:00+00:00', 'telegram', 'group', 'en', 'Can massage help?', 'reply', 1, '{\"hits\": [], \"shown\": []}', NULL, NULL)"))
    migrate(engine)
    engine.dispose()
    log = ConversationLog(log_url)
    row = get_exchange(log.engine, "old1")
    assert row["refused"] is True and row["ts"] == "2026-10-01T00:00:00Z" and row["hits"] == []


def test_record_feedback_and_recall(log_url):
    log = ConversationLog(log_url, salt="s")
    record = entry(user=log.user(123456789))
    assert log.record(record)
    assert log.feedback(record.id, "up")
    assert not log.feedback("nope", "up")
    row = get_exchange(log.engine, record.id)
    assert row["feedback"] == "up" and row["feedback_ts"]
    assert row["user_id"] == pseudonym(123456789, "s") != "123456789"
    assert row["latency_ms"] == 42 and row["model"] == "m3e-small" and row["index_version"] == "index-1"
    assert [h["article"] for h in row["hits"]] == ["botox-facial-palsy-recovery.txt", "facial-palsy-massage-en.txt"]

    fresh = ConversationLog(log_url)  # another instance (or after a restart) finds it for "more"
    recent = fresh.recall(record.id)
    assert recent.question == record.question and recent.shown == ("c1",)
    assert fresh.recall("missing") is None


def test_feedback_that_arrives_before_its_exchange_is_kept(log_url):
    log = ConversationLog(log_url)
    record = entry()
    log.expect(record.id)  # answered, not yet written
    assert log.feedback(record.id, "down")
    assert log.record(record)
    assert get_exchange(log.engine, record.id)["feedback"] == "down"


def test_raw_user_ids_only_when_opted_in(log_url):
    assert ConversationLog(log_url, salt="s").user(42) != "42"
    assert ConversationLog(log_url, salt="s", raw_user_ids=True).user(42) == "42"


@pytest.mark.parametrize("query,expected", [("面瘫多久", {"a"}), ("面瘫", {"a", "b"}), ("massage", {"c"}), ("MASSAGE", {"c"}), ("回复……", {"a", "b", "c"}), ("100%", set())])
def test_full_text_search_works_for_chinese(log_url, query, expected):
    log = ConversationLog(log_url)
    log.record(entry("打瘦脸针后面瘫多久能恢复？", id="a"))
    log.record(entry("面瘫可以按摩吗", id="b"))
    log.record(entry("Does massage help facial palsy?", id="c"))
    assert {r["id"] for r in list_exchanges(log.engine, Filters(text=query), 10)} == expected


SMALL_TALK = ("你好", "谢谢医生", "hello", "👍👍", "", "   ", "123")  # greetings, thanks, no words
REFUSALS = ("瘦脸针多少钱一针", "红烧肉怎么做", "How much does botox cost?")


def test_small_talk_is_no_refusal_in_any_filter_or_count(log_url):
    """Every "refused / not covered" selection leaves out what the overview's card counts as
    greetings and chat, so the list, the export, the console's filter and the counts agree."""
    log = ConversationLog(log_url)
    for question in SMALL_TALK + REFUSALS:
        log.record(entry(question, refused=True))
    log.record(entry("打完针呼吸困难", refused=True, emergency=True))
    log.record(entry())  # answered
    log.close()
    refusals = set(REFUSALS)
    for f in (Filters(refused=True), Filters(outcome="not_covered"), Filters(refused=True, outcome="not_covered")):
        assert {r["question"] for r in list_exchanges(log.engine, f, 100)} == refusals
        assert {r["question"] for r in iter_exchanges(log.engine, f)} == refusals
        assert page_exchanges(log.engine, f).total == len(refusals)
    figures = overview(log.engine, Filters())
    assert figures["outcomes"] == {"answered": 1, "not_covered": 3, "emergency": 1, "small_talk": len(SMALL_TALK)}
    assert figures["questions"] == 5 and figures["exchanges"] == 5 + len(SMALL_TALK)  # the header counts questions
    assert stats(log.engine, Filters())["refused"] == 3
    assert stats(log.engine, Filters(refused=True))["small_talk"] == 0  # none is selected as a refusal
    # a filter that selects no small talk at all is not changed by it
    assert {r["question"] for r in list_exchanges(log.engine, Filters(refused=True, text="瘦脸针"), 100)} == {"瘦脸针多少钱一针"}


@pytest.mark.parametrize("name, wanted", [("outcome", "'bogus' is not an outcome"), ("feedback", "'bogus' is not a feedback")])
def test_a_wrong_choice_is_one_sentence_in_good_english(name, wanted):
    with pytest.raises(QueryError) as raised:
        check_choice(name, "bogus", ("a", "b"))
    assert str(raised.value) == f"{wanted} (use one of: a, b)."


def test_fifty_concurrent_writers_lose_nothing(log_url):
    log = ConversationLog(log_url)
    barrier = threading.Barrier(50)
    results: list[bool] = []

    def writer(n: int) -> None:
        barrier.wait(timeout=30)
        for k in range(4):
            results.append(log.record(entry(f"问题 {n}-{k}", user=f"user{n}")))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [True] * 200
    with log.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM exchanges")).scalar_one() == 200
        assert conn.execute(sa.text("SELECT count(*) FROM hits")).scalar_one() == 400


def test_several_instances_start_and_write_at_once(log_url):
    """Bot instances sharing one log may open (and migrate) it at the same moment."""
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def instance(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            log = ConversationLog(log_url)
            assert all(log.record(entry(f"instance {n} question {k}")) for k in range(10))
            log.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=instance, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    log = ConversationLog(log_url)
    with log.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM exchanges")).scalar_one() == 60


@contextmanager
def locked(log_url: str):
    """Another connection holds the exchanges table locked for the block."""
    if log_url.startswith("sqlite"):
        locker = sqlite3.connect(log_url[len("sqlite:///"):], isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
    else:
        locker = sa.create_engine(log_url).connect()
        locker.execute(sa.text("LOCK TABLE exchanges IN ACCESS EXCLUSIVE MODE"))
    try:
        yield
    finally:
        locker.rollback() if not isinstance(locker, sqlite3.Connection) else locker.execute("ROLLBACK")
        locker.close()


def test_a_locked_database_fails_quickly_to_stderr_without_losing_the_exchange(log_url, capsys, tmp_path):
    log = ConversationLog(log_url, busy_seconds=0.5, spool=tmp_path / "unwritten.jsonl")
    record = entry()
    with locked(log_url):
        assert log.record(record) is False
    err = capsys.readouterr().err
    assert f"could not write exchange {record.id}" in err and "the reply was sent" in err and "kept in" in err
    assert record.question not in err and "Exchange: " not in err  # kept in the spool: what the user wrote stays out of stderr
    assert json.loads(log.spool.read_text())["question"] == record.question
    later = entry("之后的问题")
    assert log.record(later) is True  # and it works again once the lock is gone,
    assert get_exchange(log.engine, record.id)["question"] == record.question  # writing the kept row too
    assert get_exchange(log.engine, later.id) is not None
    assert log.spool.read_text() == ""  # emptied (kept in place: a waiting writer appends to the same file)
    log.record(later)  # a row written twice (a replayed spool) stays one row
    with log.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM exchanges")).scalar_one() == 2


def test_an_exchange_no_spool_can_keep_is_said_whole_on_stderr(log_url, capsys, tmp_path):
    """The last resort: an exchange neither the log nor the spool could keep is printed whole."""
    log = ConversationLog(log_url, busy_seconds=0.5, spool=tmp_path / "a-file" / "unwritten.jsonl")
    (tmp_path / "a-file").write_text("a file where the spool's folder would be")
    record = entry()
    with locked(log_url):
        assert log.record(record) is False
    err = capsys.readouterr().err
    assert "the exchange is not kept" in err and json.loads(err.split("Exchange: ", 1)[1])["question"] == record.question


def _write_rows(url: str, worker: int, rows: int, go) -> None:
    log = ConversationLog(url, busy_seconds=0.05)  # a short lock wait: contention is the rule, not the exception
    go.wait(timeout=60)
    for n in range(rows):
        log.record(entry(f"进程 {worker} 问题 {n}", user=f"p{worker}"))
    log.close()


def test_fifty_writer_processes_lose_no_row(tmp_path):
    import multiprocessing

    url = f"sqlite:///{tmp_path / 'logs.db'}"
    ConversationLog(url).close()  # created once; the writers race for the write lock, not for the migration
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    workers = [ctx.Process(target=_write_rows, args=(url, w, 20, go)) for w in range(50)]
    for p in workers:
        p.start()
    go.set()
    for p in workers:
        p.join(timeout=240)
    assert all(p.exitcode == 0 for p in workers)
    log = ConversationLog(url)
    with log.engine.connect() as conn:
        written = conn.execute(sa.text("SELECT count(*) FROM exchanges")).scalar_one()
        spooled = len(log.spool.read_text().splitlines()) if log.spool.exists() else 0
    assert written + spooled == 1000  # none lost: in the log, or kept for the next write
    log.record(entry("下一个问题"))
    with log.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM exchanges")).scalar_one() == 1001


def test_an_undelivered_reply_is_logged_with_why(log_url):
    log = ConversationLog(log_url)
    record = entry(delivery_error="RetryAfter: Flood control exceeded. Retry in 30 seconds")
    assert log.record(record) is True
    assert get_exchange(log.engine, record.id)["delivery_error"].startswith("RetryAfter")


def test_a_full_disk_is_reported_not_raised(tmp_path, capsys):
    log = ConversationLog(f"sqlite:///{tmp_path / 'logs.db'}")
    log.engine.dispose()
    sa.event.listen(log.engine, "connect", lambda conn, _rec: conn.execute("PRAGMA max_page_count = 1"))
    assert log.record(entry("占满磁盘的问题" * 500)) is False
    assert "full" in capsys.readouterr().err


def test_an_unreachable_server_is_one_sentence(tmp_path):
    with pytest.raises(LogError, match="Cannot open the conversation log"):
        ConversationLog(f"postgresql+psycopg://nobody@/nodb?host={tmp_path}&port=1")


def test_migrations_produce_exactly_the_schema_the_code_uses(log_url):
    """convlog.schema is the one definition: a database migrated to head has no difference from it."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from convlog.schema import metadata

    full_text = ("exchanges_fts", "exchanges_question_trgm", "exchanges_reply_trgm")  # dialect-specific, migration 0003

    def include(_obj, name, _type, _reflected, _compare_to) -> bool:
        return not (name or "").startswith(full_text) and name != "alembic_version"

    log = ConversationLog(log_url)
    with log.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include, "compare_type": True})
        assert compare_metadata(context, metadata) == []
    log.close()


def test_a_server_not_reachable_at_start_loses_no_exchange(postgres, tmp_path, capsys):
    """The bot's log (wait_for_server) on a PostgreSQL server that is down when the bot starts:
    the bot starts, each exchange (and a 👍 given meanwhile) is kept in the spool, and all are
    written once the server can be reached. The `logs` commands still say at once that it cannot."""
    real = postgres.new_database()
    away = tmp_path / "sock"  # where the server's socket will appear: nothing listens there yet
    away.mkdir()
    url = real.replace(f"host={postgres.socket_dir}", f"host={away}")
    with pytest.raises(LogError, match="Cannot open the conversation log"):
        ConversationLog(url)
    log = ConversationLog(url, spool=tmp_path / "unwritten.jsonl", wait_for_server=True)
    assert "cannot be reached" in capsys.readouterr().err
    first, second = entry("服务器没开时的问题"), entry("第二个问题")
    for record in (first, second):
        log.expect(record.id)
        assert log.record(record) is False
    assert log.feedback(first.id, "down") is True  # kept with the exchange, not lost
    assert len(log.spool.read_text().splitlines()) == 2
    assert first.question not in capsys.readouterr().err  # the spool has it; stderr says only that it waits
    (away / f".s.PGSQL.{postgres.PORT}").symlink_to(postgres.socket_dir / f".s.PGSQL.{postgres.PORT}")  # the server is up
    third = entry("服务器好了以后的问题")
    assert log.record(third) is False  # not tried again before RETRY_OPEN_SECONDS
    log._retry_at = 0.0  # as if they had passed
    fourth = entry("再后来的问题")
    assert log.record(fourth) is True
    assert "can be reached now" in capsys.readouterr().err
    for record in (first, second, third, fourth):
        assert get_exchange(log.engine, record.id)["question"] == record.question
    assert get_exchange(log.engine, first.id)["feedback"] == "down"
    assert log.spool.read_text() == ""
    log.close()
