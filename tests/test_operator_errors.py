"""Operator mistakes: each is one sentence on stderr and a non-zero exit, never a traceback,
and destructive commands ask first (issue "Hostile input and faults")."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from common.clock import utc_stamp
from convlog import ConversationLog, ExchangeRecord, LoggedHit

NOW = datetime.now(timezone.utc).replace(microsecond=0)
FORMULAS = ['=HYPERLINK("http://x","click")', "+1+2", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "  =1+1", " \t@x"]


def articlebot(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def assert_one_sentence(result, *needles: str) -> None:
    """A non-zero exit with one `Error:` sentence on stderr (the last line; click may print usage before it)."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), result.stderr
    assert sum(line.startswith("Error") for line in lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[-1], lines[-1]


def record(question: str, days_ago: float, hits=()) -> ExchangeRecord:
    return ExchangeRecord(channel="telegram", lang="zh", question=question, reply=f"回复：{question}", refused=not hits,
                          hits=list(hits), latency_ms=100, model="multilingual-e5-small", index_version="index-1",
                          user_id="u1", chat_type="private", ts=utc_stamp(NOW - timedelta(days=days_ago)))  # fmt: skip


@pytest.fixture
def data(env_setup) -> Path:
    """The data directory (ARTICLEBOT_DATA, set by conftest) with a log of three exchanges."""
    folder = env_setup / "data"
    log = ConversationLog(f"sqlite:///{folder / 'logs.db'}", salt="seed")
    for question, days_ago in (("瘦脸针面瘫多久能恢复", 200), ("红烧肉怎么做？", 2), ("明天北京天气怎么样", 0.1)):
        log.record(record(question, days_ago))
    log.close()
    return folder


def logged(*args: str) -> int:
    result = articlebot("logs", "list", "-n", "100", "--json", *args)
    assert result.exit_code == 0, result.output
    return len(json.loads(result.stdout))


# 1. ages, dates and counts out of range


def test_ages_dates_and_counts_out_of_range_are_one_sentence(data):
    for args in (["--since", "999999999d"], ["--until", "999999999d"], ["--since", "99999999999999999999min"],
                 ["--since", "9" * 5000 + "d"], ["--since", "0001-01-01T00:00+05:00"],
                 ["--until", "9999-12-31T23:00-05:00"], ["stats", "--since", "999999999h"],
                 ["export", "--until", "999999999d"], ["purge", "--older-than", "999999999d", "--yes"]):  # fmt: skip
        assert_one_sentence(articlebot("logs", *args), "out of range")
    for args in (["-n", "99999999999999999999"], ["list", "--count", "1000000001"], ["stats", "--top", "99999999999999999999"]):
        assert_one_sentence(articlebot("logs", *args), "1<=x<=1000000")
    assert logged("--since", "36500d") == 3  # a long but representable age still works
    assert len(json.loads(articlebot("logs", "-n", "1000000", "--json").stdout)) == 3


# 2. purge asks first


def test_purge_off_a_terminal_needs_yes(data):
    result = articlebot("logs", "purge", "--older-than", "0d")
    assert_one_sentence(result, "3 exchanges", "--yes")
    assert logged() == 3  # nothing deleted
    result = articlebot("logs", "purge", "--older-than", "30d", "--yes", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["deleted"] == 1
    result = articlebot("logs", "purge", "--older-than", "0d", "--yes")
    assert result.exit_code == 0 and "Deleted 2 exchanges" in result.stdout
    assert logged() == 0


def purge_on_a_terminal(answer: str) -> subprocess.CompletedProcess:
    """`articlebot logs purge --older-than 0d` with its standard input on a terminal, answering `answer`."""
    controller, terminal = pty.openpty()
    try:
        os.write(controller, answer.encode() + b"\n")
        return subprocess.run([sys.executable, "-m", "bot", "logs", "purge", "--older-than", "0d"], stdin=terminal,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
    finally:
        os.close(terminal)
        os.close(controller)


def test_purge_on_a_terminal_shows_the_count_and_asks(data):
    refused = purge_on_a_terminal("n")
    assert refused.returncode != 0 and "Delete 3 exchanges" in refused.stdout, refused
    assert "Traceback" not in refused.stderr
    assert logged() == 3
    accepted = purge_on_a_terminal("y")
    assert accepted.returncode == 0 and "Deleted 3 exchanges" in accepted.stdout, accepted
    assert logged() == 0


# 3. export to a place that cannot be written


def test_export_to_a_missing_folder_or_a_failing_file_is_one_sentence(data, tmp_path):
    missing = tmp_path / "missing" / "dir" / "x.csv"
    assert_one_sentence(articlebot("logs", "export", "-o", str(missing)), "does not exist", str(missing.parent))
    assert_one_sentence(articlebot("logs", "export", "--format", "csv", "-o", "/dev/full"), "/dev/full")
    (tmp_path / "a-file").write_text("")
    assert_one_sentence(articlebot("logs", "export", "-o", str(tmp_path / "a-file" / "x.jsonl")), str(tmp_path / "a-file"))
    with open("/dev/full", "w") as full:  # standard output that cannot be written
        result = subprocess.run([sys.executable, "-m", "bot", "logs", "export"], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=60)  # fmt: skip
    assert result.returncode == 1 and result.stderr.startswith("Error: Cannot write the export to standard output")
    assert len(result.stderr.splitlines()) == 1, result.stderr


# 4. CSV cells a spreadsheet would run as formulas


def test_csv_export_neutralises_formulas_and_opens_in_excel(data, tmp_path):
    log = ConversationLog(f"sqlite:///{data / 'logs.db'}", salt="seed")
    for question in FORMULAS:
        log.record(record(question, 1, hits=[LoggedHit("c1", "=cmd|' /C calc'!A0.txt", "-2+3", 0.5, True)]))
    log.close()
    out = tmp_path / "export.csv"
    result = articlebot("logs", "export", "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "瘦脸针面瘫多久能恢复".encode() in raw  # Excel reads the BOM as UTF-8
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(table) == 3 + len(FORMULAS)
    questions = {row["question"] for row in table}
    assert {"'" + formula for formula in FORMULAS} <= questions
    assert "瘦脸针面瘫多久能恢复" in questions  # harmless text is left alone
    for row in table:
        for value in row.values():
            assert value.lstrip(" \t\r\n")[:1] not in ("=", "+", "-", "@"), (row["question"], value)
    quoted = next(row for row in table if row["question"] == "'" + FORMULAS[0])
    assert quoted["quoted_articles"] == "'=cmd|' /C calc'!A0.txt"
    assert json.loads(quoted["hits"])[0]["title"] == "-2+3"  # JSON in the cell is still JSON

    to_stdout = articlebot("logs", "export", "--format", "csv")
    assert not to_stdout.stdout.startswith("\ufeff") and "'=HYPERLINK" in to_stdout.stdout
    lines = [json.loads(line) for line in articlebot("logs", "export", "--format", "jsonl").stdout.splitlines()]
    assert FORMULAS[0] in [row["question"] for row in lines]  # JSON lines stay as they were asked


# 5. ARTICLEBOT_DATA that is not a folder, or cannot be written


def test_unusable_data_folder_is_one_sentence(tmp_path, monkeypatch):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    for data, needle in ((a_file, "is not a folder"), (a_file / "data", f"{a_file} is a file"),
                         (Path("/proc/articlebot-data"), "cannot be written")):  # fmt: skip
        monkeypatch.setenv("ARTICLEBOT_DATA", str(data))
        for args, stdin in ((["ask", "瘦脸针"], None), (["index"], None), (["logs"], None), (["chat"], "瘦脸针\n"),
                            (["logs", "path"], None), (["run"], "")):  # fmt: skip
            assert_one_sentence(articlebot(*args, input=stdin), "ARTICLEBOT_DATA", str(data), needle)
    assert a_file.read_text() == "not a folder\n"
    assert not Path("/proc/articlebot-data").exists()


# 6. an empty log-salt file


def test_empty_salt_file_is_one_sentence_for_logs_and_a_clear_warning_when_answering(data, monkeypatch, capsys):
    from bot.config import Config
    from bot.service import open_log

    (data / "log-salt").write_text("  \n")
    assert_one_sentence(articlebot("logs"), str(data / "log-salt"), "is empty", "ARTICLEBOT_LOG_SALT")
    assert_one_sentence(articlebot("logs", "purge", "--older-than", "0d", "--yes"), "log-salt")
    assert open_log(Config.from_env()) is None  # ask, chat and run answer, without the log
    warning = capsys.readouterr().err
    assert "not be logged" in warning and "log-salt" in warning and "ARTICLEBOT_LOG_SALT" in warning
    assert (data / "log-salt").read_text() == "  \n"  # never replaced behind the operator's back

    monkeypatch.setenv("ARTICLEBOT_LOG_SALT", "a-salt")
    assert logged() == 3
    log = open_log(Config.from_env())
    assert log is not None and log.salt == "a-salt"
    log.close()


# 7. thresholds that are not finite or out of range


def test_thresholds_must_be_finite_and_in_range(monkeypatch):
    for value in ("nan", "NaN", "inf", "-inf", "1.5", "-2", "1e999"):
        monkeypatch.setenv("ARTICLEBOT_MIN_SCORE", value)
        assert_one_sentence(articlebot("logs", "path"), "ARTICLEBOT_MIN_SCORE", "-1")
    monkeypatch.setenv("ARTICLEBOT_MIN_SCORE", "-0.2")
    assert articlebot("logs", "path").exit_code == 0
    monkeypatch.delenv("ARTICLEBOT_MIN_SCORE")
    for value in ("en=nan", "long=inf", "en=2", "zh=-1.5", "en=abc"):
        monkeypatch.setenv("ARTICLEBOT_MIN_SCORE_OFFSETS", value)
        assert_one_sentence(articlebot("logs", "path"), "ARTICLEBOT_MIN_SCORE_OFFSETS")
    monkeypatch.setenv("ARTICLEBOT_MIN_SCORE_OFFSETS", "en=0.05,long=-0.02")
    assert articlebot("logs", "path").exit_code == 0


# 8. a re-index interrupted, and a misspelt model


def test_an_interrupted_index_says_the_previous_one_is_still_in_use(monkeypatch):
    import retrieval.build

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(retrieval.build, "build_index", interrupted)
    result = articlebot("index")
    assert_one_sentence(result, "interrupted", "the previous one is still in use")
    assert result.exit_code == 130  # as a shell expects after Ctrl-C


def test_an_unknown_model_is_named_before_the_index_is_compared(bundled_data, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_DATA", str(bundled_data))
    monkeypatch.setenv("ARTICLEBOT_MODEL", "no-such-model")
    result = articlebot("ask", "打瘦脸针会导致面瘫吗")
    assert_one_sentence(result, "Unknown embedding model 'no-such-model'")
    assert "rebuild" not in result.stderr  # rebuilding with an unknown model would fail too
