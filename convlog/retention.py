"""Retention: what an age such as `--older-than 90d` means, and deleting the exchanges
logged before it (with their hits and gap marks). A wrong cutoff deletes the wrong
conversations, so ages are parsed strictly and out-of-range ones are refused.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from common.clock import utc_stamp
from convlog.schema import exchanges, gap_marks, hits


class QueryError(Exception):
    """A filter value the user gave cannot be understood."""


AGE_RE = re.compile(r"\s*(\d+)\s*(d|w|h|min)\s*")
_UNITS = {"d": "days", "w": "weeks", "h": "hours", "min": "minutes"}
# "6m" reads as six months to many people and as six minutes to others: refused, never guessed
_AMBIGUOUS_RE = re.compile(r"\s*\d+\s*(m|mo|mon|months?|y|yr|years?)\s*", re.IGNORECASE)


def parse_age(value: str) -> timedelta:
    """An age such as 90d, 2w, 12h or 30min. Months and years are refused, and so is a bare
    "m": an age deletes conversations, so it is never guessed."""
    age = AGE_RE.fullmatch(value or "")
    if not age:
        if _AMBIGUOUS_RE.fullmatch(value or ""):
            raise QueryError(f"{value!r} is not an age: write months or years in days (180d for about six months),"
                             " and minutes as min (30min).")  # fmt: skip
        raise QueryError(f"{value!r} is not an age (use for example 90d, 2w, 12h or 30min).")
    try:
        return timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    except (OverflowError, ValueError):  # more days than a timedelta holds, or digits past int()'s limit
        raise out_of_range(value) from None


def cutoff(age: str, *, now: datetime | None = None) -> str:
    """The moment `age` (90d, 2w, 12h, 30min) before now, as a utc_stamp."""
    try:
        return utc_stamp((now or datetime.now(timezone.utc)) - parse_age(age))
    except OverflowError:
        raise out_of_range(age) from None


def out_of_range(value: str) -> QueryError:
    return QueryError(f"{value!r} is out of range (times must fall between the years 1 and 9999).")


def count_before(engine: sa.Engine, before: str) -> int:
    """How many exchanges `purge(engine, before)` would delete."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(exchanges).where(exchanges.c.ts < before)).scalar_one()


def purge(engine: sa.Engine, before: str) -> int:
    """Delete exchanges (their hits and gap marks too) older than `before`; returns how many."""
    old = sa.select(exchanges.c.id).where(exchanges.c.ts < before)
    with engine.begin() as conn:
        conn.execute(hits.delete().where(hits.c.exchange_id.in_(old)))
        conn.execute(gap_marks.delete().where(gap_marks.c.exchange_id.in_(old)))
        return conn.execute(exchanges.delete().where(exchanges.c.ts < before)).rowcount
