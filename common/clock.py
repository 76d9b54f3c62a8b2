"""Timestamps: one format everywhere (log rows, feedback, index build times, lock files)."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_stamp(moment: datetime | None = None) -> str:
    """UTC time as sortable text, the same in SQLite and PostgreSQL: 2026-11-21T19:00:00Z."""
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
