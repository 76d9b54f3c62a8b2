"""Timestamps: one format everywhere (log rows, feedback, index build times, lock files), and how they are shown."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

_last = datetime.min.replace(tzinfo=timezone.utc)
_last_lock = threading.Lock()


def _now_after_last() -> datetime:
    """Now, at least a millisecond after the previous call's: two exchanges of one burst (a
    thank-you answered in under a millisecond) still get stamps in the order they came."""
    global _last
    with _last_lock:
        now = datetime.now(timezone.utc)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        _last = max(now, _last + timedelta(milliseconds=1))
        return _last


def utc_stamp(moment: datetime | None = None) -> str:
    """UTC time as sortable text, the same in SQLite and PostgreSQL: 2026-11-21T19:00:00.250Z.

    Milliseconds, so that the log lists the exchanges of one second in the order they came
    ("打瘦脸针会导致面瘫吗" before its follow-up "那要多久能恢复"). Stamps written before had whole
    seconds ("…T19:00:00Z"); "…:00Z" sorts after every stamp of its second ("…:00.999Z") and
    before the next second's ("…:01.000Z"), so against bounds (--since, --until, a purge's
    cutoff) they are off by less than a second, and exact for bounds on whole seconds."""
    moment = _now_after_last() if moment is None else moment.astimezone(timezone.utc)
    # the year always in four digits: strftime writes the year 931 as "931", which sorts after "2026"
    # (a purge or an --until of a year before 1000 would then select every row)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def shown_stamp(stamp: str) -> str:
    """A stamp as people read it: "2026-11-21 19:00:00" (UTC; no milliseconds)."""
    return stamp.replace("T", " ")[:19]
