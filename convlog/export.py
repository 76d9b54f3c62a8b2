"""Exchanges as CSV for a spreadsheet: one row per exchange, its hits as JSON in one cell.

A question is whatever a user typed, so a cell a spreadsheet would run as a formula
(`=HYPERLINK(...)`, `+`, `-`, `@`, or a tab or carriage return first, also after
leading spaces) is written with a single quote in front, as OWASP advises against
CSV injection. Write to a file opened with ``encoding=CSV_ENCODING`` (UTF-8 with a
byte-order mark) so that Excel reads Chinese correctly.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from convlog.records import read_with_context
from convlog.smalltalk import is_small_talk

CSV_ENCODING = "utf-8-sig"
EXPORT_FIELDS = [
    "id", "ts", "channel", "user_id", "chat_type", "lang", "question", "searched", "follow_up", "reply", "refused", "emergency",
    "latency_ms", "model", "index_version", "feedback", "feedback_ts", "delivery_error",
]  # fmt: skip
CSV_FIELDS = [*EXPORT_FIELDS, "quoted_articles", "hits"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell that cannot start a formula (numbers and flags pass unchanged)."""
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS) or value.lstrip().startswith(FORMULA_STARTS)):
        return "'" + value
    return value


def csv_row(row: dict) -> dict:
    """One exchange (as `review.iter_exchanges` yields it) as CSV cells."""
    quoted = ";".join(hit["article"] for hit in row["hits"] if hit["shown"])
    cells = {**{key: row[key] for key in EXPORT_FIELDS}, "quoted_articles": quoted,
             "hits": json.dumps(row["hits"], ensure_ascii=False)}  # fmt: skip
    return {key: neutralise(value) for key, value in cells.items()}


def write_csv(rows: Iterable[dict], out: TextIO) -> int:
    """Write exchanges with a header to `out` (opened with newline=""); returns how many."""
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow(csv_row(row))
        count += 1
    return count


def csv_chunks(rows: Iterable[dict], *, batch: int = 200) -> Iterator[str]:
    """The same CSV as `write_csv`, byte-order mark first, as text pieces to stream (a download)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
    buffer.write("\ufeff")  # what CSV_ENCODING writes: Excel then reads the Chinese as UTF-8
    writer.writeheader()
    for count, row in enumerate(rows, 1):
        writer.writerow(csv_row(row))
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_line(row: dict) -> str:
    """One exchange (with its hits) as a line of JSON."""
    return json.dumps(row, ensure_ascii=False, default=str) + "\n"


def label_line(row: dict) -> str:
    """One exchange as a draft line for `articlebot eval-answers` and `calibrate`: the message as
    `turns`, the article the bot quoted first as `article` (null when it quoted none), whether it
    was an emergency, and tags saying what the bot did. A person must check each label: it records
    what the bot did, not what it should have done. A follow-up (searched together with the
    conversation's previous question) keeps that text as `searched`, to be made into two turns.

    Small talk (greetings, thanks, messages with no words: convlog.smalltalk) and requests for
    more of the previous answer ("还有呢", "more?": what the "more" button does) give "" (no
    line): the draft is of questions, and a "谢谢" or "还有呢" line would only be deleted by hand."""
    # imported here, as convlog.smalltalk does: `logs` starts without it
    from retrieval.followup import asks_for_more

    if is_small_talk(row) or asks_for_more(row["question"]):
        return ""
    first = next((hit for hit in sorted(row["hits"], key=lambda h: h["rank"]) if hit["shown"]), None)
    tags = ["from-log", "emergency" if row["emergency"] else "refused" if row["refused"] else "answered"]
    if row.get("feedback") == "down":
        tags.append("thumbs-down")
    line = {"turns": [row["question"]], "article": None if row["refused"] or first is None else first["article"],
            "emergency": bool(row["emergency"]), "tags": tags, "exchange": row["id"]}  # fmt: skip
    if read_with_context(row.get("searched"), row.get("follow_up")):
        line["searched"] = row["searched"]
        tags.append("follow-up")
    return json.dumps(line, ensure_ascii=False) + "\n"
