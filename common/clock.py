"""Timestamps: one format everywhere (log rows, feedback, index build times, lock files)."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_stamp(moment: datetime | None = None) -> str:
    """UTC time as sortable text, the same in SQLite and PostgreSQL: 2026-11-21T19:00:00Z."""
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    # the year always in four digits: strftime writes the year 931 as "931", which sorts after "2026"
    # (a purge or an --until of a year before 1000 would then select every row)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%SZ}"
