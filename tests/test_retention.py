"""Retention: what `--older-than` ages mean, and `articlebot logs purge` deleting exactly
the exchanges logged before the cutoff (their hits and gap marks too), never one more."""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import main
from convlog import ConversationLog, ExchangeRecord, LoggedHit
from convlog.retention import QueryError, count_before, cutoff, parse_age, purge
from insights.gaps import mark_handled

NOW = datetime(2026, 3, 31, 12, 0, 0, tzinfo=timezone.utc)
CUTOFF = "2026-01-01T00:00:00Z"  # the moment a purge is asked to delete before, in the boundary tests


def stamp(moment: datetime) -> str:
    """A log timestamp (to the millisecond), written out here rather than with the code under test."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def exchange(question: str, ts: str) -> ExchangeRecord:
    """An answered exchange logged at `ts`, with two hits."""
    hits = [LoggedHit("c1", "botox-facial-palsy-recovery.txt", "瘦脸针面瘫", 0.8, True),
            LoggedHit("c2", "facial-palsy-massage-en.txt", "Facial palsy massage", 0.6, False)]  # fmt: skip
    return ExchangeRecord(channel="telegram", lang="zh", question=question, reply=f"回复：{question}", refused=False,
                          hits=hits, latency_ms=100, model="multilingual-e5-small", index_version="index-1",
                          user_id="u1", chat_type="private", ts=ts)  # fmt: skip


def seed(url: str, rows: dict[str, str]) -> dict[str, str]:
    """Log one exchange per name at its timestamp, mark every one's content gap handled; their ids by name."""
    log = ConversationLog(url, salt="retention")
    ids = {}
    for name, ts in rows.items():
        record = exchange(f"问题 {name}", ts)
        assert log.record(record)
        ids[name] = record.id
    assert mark_handled(log.engine, ids.values()) == len(ids)
    log.close()
    return ids


def left(url: str) -> tuple[set[str], dict[str, int], set[str]]:
    """What the log still holds: exchange ids, hits per exchange id, exchange ids with a gap mark."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            kept = {row[0] for row in conn.execute(sa.text("SELECT id FROM exchanges"))}
            hits = dict(conn.execute(sa.text("SELECT exchange_id, count(*) FROM hits GROUP BY exchange_id")).all())
            marks = {row[0] for row in conn.execute(sa.text("SELECT exchange_id FROM gap_marks"))}
    finally:
        engine.dispose()
    return kept, hits, marks


def logs(*args: str):
    return CliRunner().invoke(main, ["logs", *args], catch_exceptions=False)


def assert_one_sentence(result, sentence: str) -> None:
    """A non-zero exit whose only output is `Error: <sentence>`."""
    assert result.exit_code == 1, result.output
    assert result.stdout == "" and result.stderr == f"Error: {sentence}\n"


# -- purge: the boundary, and what goes with a deleted exchange ---------------------------


def test_purge_deletes_what_was_logged_before_the_cutoff_and_keeps_the_rest(log_url):
    ids = seed(log_url, {"months_before": "2025-06-01T08:00:00Z", "second_before": "2025-12-31T23:59:59Z",
                         "at": CUTOFF, "second_after": "2026-01-01T00:00:01Z"})  # fmt: skip
    log = ConversationLog(log_url)
    try:
        assert count_before(log.engine, CUTOFF) == 2  # what the confirmation question announces...
        assert purge(log.engine, CUTOFF) == 2  # ...is what is deleted
        assert count_before(log.engine, CUTOFF) == 0
        assert purge(log.engine, CUTOFF) == 0
    finally:
        log.close()
    survivors = {ids["at"], ids["second_after"]}
    kept, hits, marks = left(log_url)
    assert kept == survivors  # the exchange logged at the cutoff itself is not "older than" it
    assert hits == {ids["at"]: 2, ids["second_after"]: 2}  # the deleted exchanges' hits are gone, the others' all kept
    assert marks == survivors


def test_purge_deletes_the_hits_and_gap_marks_itself_where_sqlite_does_not_cascade(tmp_path):
    """SQLite cascades deletes only on connections that turn foreign keys on (the log's own engine
    does); purge must not leave orphaned hits and marks on a plain one either."""
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    ids = seed(url, {"second_before": "2025-12-31T23:59:59Z", "at": CUTOFF})
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar_one() == 0
        assert purge(engine, CUTOFF) == 1
    finally:
        engine.dispose()
    assert left(url) == ({ids["at"]}, {ids["at"]: 2}, {ids["at"]})


def test_rows_logged_to_the_second_compare_right_with_cutoffs_to_the_millisecond(log_url):
    """Stamps had whole seconds before they had milliseconds (common.clock.utc_stamp); a log
    holding both purges by the moment each stands for."""
    ids = seed(log_url, {"old_before": "2025-12-31T23:59:59Z", "new_before": "2025-12-31T23:59:59.999Z",
                         "old_at": "2026-01-01T00:00:00Z", "new_at": "2026-01-01T00:00:00.000Z"})  # fmt: skip
    log = ConversationLog(log_url)
    try:
        assert purge(log.engine, "2026-01-01T00:00:00.000Z") == 2
    finally:
        log.close()
    assert left(log_url)[0] == {ids["old_at"], ids["new_at"]}


def test_count_before_an_exchange_logged_at_the_cutoff_is_not_counted(log_url):
    seed(log_url, {"at": CUTOFF, "after": "2026-02-01T00:00:00Z"})
    log = ConversationLog(log_url)
    try:
        assert count_before(log.engine, CUTOFF) == 0
        assert count_before(log.engine, "2026-01-01T00:00:01Z") == 1
        assert count_before(log.engine, "2026-02-01T00:00:01Z") == 2
        assert purge(log.engine, CUTOFF) == 0
    finally:
        log.close()


def test_purge_older_than_90d_from_the_command_line(log_url, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_LOG_URL", log_url)
    started = datetime.now(timezone.utc)
    ninety = started - timedelta(days=90)
    ids = seed(log_url, {"year": stamp(started - timedelta(days=365)), "just_older": stamp(ninety - timedelta(hours=1)),
                         "just_newer": stamp(ninety + timedelta(hours=1)), "today": stamp(started)})  # fmt: skip
    refused = logs("purge", "--older-than", "90d")  # not on a terminal, no --yes: the count, nothing deleted
    assert refused.exit_code == 1 and refused.stderr.startswith("Error: This would delete 2 exchanges logged before 20")
    assert left(log_url)[0] == set(ids.values())

    result = logs("purge", "--older-than", "90d", "--yes", "--json")
    finished = datetime.now(timezone.utc)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["deleted"] == 2
    assert stamp(started - timedelta(days=90)) <= out["before"] <= stamp(finished - timedelta(days=90))
    kept, hits, marks = left(log_url)
    assert kept == {ids["just_newer"], ids["today"]} == marks
    assert hits == {ids["just_newer"]: 2, ids["today"]: 2}


@contextmanager
def summer_time_since(days: int):
    """The machine's local zone (TZ) is UTC+0 in winter and UTC+6 in summer, and summer began
    `days` days ago (a POSIX rule written for today's date)."""
    today = datetime.now(timezone.utc).timetuple()
    leap = today.tm_year % 4 == 0 and (today.tm_year % 100 != 0 or today.tm_year % 400 == 0)
    day = today.tm_yday - (1 if leap and today.tm_yday > 59 else 0)  # Jn days never count 29 February
    start, end = (day - days - 1) % 365 + 1, (day + days - 1) % 365 + 1
    before = os.environ.get("TZ")
    os.environ["TZ"] = f"WIN0SUM-6,J{start}/0,J{end}/0"
    time.tzset()
    try:
        assert time.localtime().tm_gmtoff == 6 * 3600  # summer now
        assert time.localtime(time.time() - 2 * days * 86400).tm_gmtoff == 0  # winter before the cutoff
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_purge_older_than_ignores_the_local_clock_change(tmp_path, monkeypatch):
    """The cutoff is counted in UTC: a server whose local time moved 6 hours since then deletes the same rows."""
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    monkeypatch.setenv("ARTICLEBOT_LOG_URL", url)
    started = datetime.now(timezone.utc)
    twenty = started - timedelta(days=20)
    ids = seed(url, {"older": stamp(twenty - timedelta(hours=3)), "newer": stamp(twenty + timedelta(hours=3))})
    with summer_time_since(10):
        result = logs("purge", "--older-than", "20d", "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == 1
    assert left(url)[0] == {ids["newer"]}


# -- ages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        ("90d", "2025-12-31T12:00:00.000Z"),
        ("1d", "2026-03-30T12:00:00.000Z"),
        ("0d", "2026-03-31T12:00:00.000Z"),
        ("12h", "2026-03-31T00:00:00.000Z"),
        ("37h", "2026-03-29T23:00:00.000Z"),
        ("30min", "2026-03-31T11:30:00.000Z"),
        ("721min", "2026-03-30T23:59:00.000Z"),
        (" 7d ", "2026-03-24T12:00:00.000Z"),  # spaces around, or between the number and the unit, are harmless
        ("7 d", "2026-03-24T12:00:00.000Z"),
        ("0090d", "2025-12-31T12:00:00.000Z"),
        ("400000d", "0931-01-31T12:00:00.000Z"),  # a year before 1000 still has four digits (and sorts before 2026)
    ],
)
def test_age_cutoff_for_each_unit_with_a_fixed_now(age, expected):
    assert cutoff(age, now=NOW) == expected


def test_age_cutoff_of_a_moment_in_another_zone_is_in_utc():
    beijing = datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    assert cutoff("30min", now=beijing) == "2025-12-31T23:30:00.000Z"


def test_parse_age_units():
    assert parse_age("90d") == timedelta(days=90)
    assert parse_age("12h") == timedelta(hours=12)
    assert parse_age("30min") == timedelta(minutes=30)
    assert parse_age("2w") == timedelta(weeks=2)
    assert parse_age("0d") == timedelta(0)


@pytest.mark.parametrize("age", ["6m", "1m", "6mo", "6 months", "1y", "2years", "0m"])
def test_months_years_and_a_bare_m_are_refused_not_guessed(age):
    """"6m" is six months to some and six minutes to others; an age deletes conversations."""
    with pytest.raises(QueryError) as refused:
        parse_age(age)
    assert str(refused.value) == (f"{age!r} is not an age: write months or years in days (180d for about six months),"
                                  " and minutes as min (30min).")  # fmt: skip


@pytest.mark.parametrize("age", ["", " ", "\t\n", "soon", "90", "d", "-5d", "+5d", "1.5d", "90D", "90 days", "90dd",
                                 "9 0d", "90s", "2x", "d90", "90d12h", "30mins"])  # fmt: skip
def test_garbage_ages_are_refused_with_one_sentence(age):
    sentence = f"{age!r} is not an age (use for example 90d, 2w, 12h or 30min)."
    with pytest.raises(QueryError) as refused:
        parse_age(age)
    assert str(refused.value) == sentence
    with pytest.raises(QueryError) as refused:
        cutoff(age, now=NOW)
    assert str(refused.value) == sentence


@pytest.mark.parametrize(
    "age",
    [
        "1000000000d",  # more days than a timedelta holds
        "99999999999999999999min",  # more than a C int
        "9" * 5000 + "d",  # more digits than int() reads
        "999999999d",  # a timedelta, but before the year 1
    ],
)
def test_out_of_range_ages_are_refused_with_one_sentence(age):
    with pytest.raises(QueryError) as refused:
        cutoff(age, now=NOW)
    assert str(refused.value) == f"{age!r} is out of range (times must fall between the years 1 and 9999)."


def test_out_of_range_ages_from_parse_age_name_the_age():
    with pytest.raises(QueryError, match=r"^'1000000000d' is out of range \(times must fall between the years 1 and 9999\)\.$"):
        parse_age("1000000000d")
    with pytest.raises(QueryError, match=r"^'9{5000}h' is out of range "):
        parse_age("9" * 5000 + "h")


def test_an_age_reaching_before_the_year_1_is_out_of_range():
    with pytest.raises(QueryError, match=r"^'2d' is out of range \(times must fall between the years 1 and 9999\)\.$"):
        cutoff("2d", now=datetime(1, 1, 1, 12, 0, tzinfo=timezone.utc))
    assert cutoff("12h", now=datetime(1, 1, 1, 12, 0, tzinfo=timezone.utc)) == "0001-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("age", "sentence"),
    [
        ("   ", "'   ' is not an age (use for example 90d, 2w, 12h or 30min)."),
        ("soon", "'soon' is not an age (use for example 90d, 2w, 12h or 30min)."),
        ("-1d", "'-1d' is not an age (use for example 90d, 2w, 12h or 30min)."),
        ("999999999d", "'999999999d' is out of range (times must fall between the years 1 and 9999)."),
        ("1000000000d", "'1000000000d' is out of range (times must fall between the years 1 and 9999)."),
    ],
)
def test_purge_older_than_a_bad_age_is_one_sentence_and_deletes_nothing(tmp_path, monkeypatch, age, sentence):
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    monkeypatch.setenv("ARTICLEBOT_LOG_URL", url)
    ids = seed(url, {"old": "2020-01-01T00:00:00Z"})
    assert_one_sentence(logs("purge", "--older-than", age, "--yes"), sentence)
    assert left(url)[0] == set(ids.values())


def test_purge_older_than_a_thousand_years_deletes_nothing_recent(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'logs.db'}"
    monkeypatch.setenv("ARTICLEBOT_LOG_URL", url)
    ids = seed(url, {"old": "2020-01-01T00:00:00Z", "today": stamp(datetime.now(timezone.utc))})
    result = logs("purge", "--older-than", "400000d", "--yes", "--json")  # before the year 1000
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["deleted"] == 0
    assert left(url)[0] == set(ids.values())


def test_a_date_before_the_year_1000_sorts_before_every_logged_row():
    from convlog.review import parse_when

    assert parse_when("0999-01-01") == "0999-01-01T00:00:00.000Z"
    assert parse_when("0999-01-01") < "2026-01-01T00:00:00Z"
