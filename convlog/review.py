"""Queries over the conversation log for operators: list, show, stats, export, purge.

Full-text search works for Chinese: in SQLite through the FTS5 trigram index
(queries of three characters or more; shorter ones fall back to a substring
scan), in PostgreSQL through ILIKE served by pg_trgm indexes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from common.clock import utc_stamp
from common.text import keywords, similarity
from convlog.schema import exchanges, hits

UNANSWERED_SIMILARITY = 0.6  # keyword overlap above which two unanswered questions are one content gap


class QueryError(Exception):
    """A filter value the user gave cannot be understood."""


@dataclass
class Filters:
    """What to select; every field is optional."""

    refused: bool = False
    negative: bool = False
    since: str | None = None  # utc_stamp text, inclusive
    until: str | None = None  # exclusive
    user: str | None = None
    text: str | None = None
    channel: str | None = None


_AGE_RE = re.compile(r"\s*(\d+)\s*([dhm])\s*")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
MAX_ROWS = 1_000_000  # the most rows list or stats may be asked for (SQL limits are 64-bit integers)


def parse_age(value: str) -> timedelta:
    """An age such as 90d, 12h or 30m."""
    age = _AGE_RE.fullmatch(value or "")
    if not age:
        raise QueryError(f"{value!r} is not an age (use for example 90d, 12h or 30m).")
    try:
        return timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})
    except (OverflowError, ValueError):  # more days than a timedelta holds, or digits past int()'s limit
        raise _out_of_range(value) from None


def cutoff(age: str, *, now: datetime | None = None) -> str:
    """The moment `age` (90d, 12h, 30m) before now, as a utc_stamp."""
    try:
        return utc_stamp((now or datetime.now(timezone.utc)) - parse_age(age))
    except OverflowError:
        raise _out_of_range(age) from None


def parse_when(value: str, *, now: datetime | None = None) -> str:
    """A time filter: 2026-11-01, 2026-11-01T08:00, or an age such as 7d, 12h, 30m."""
    if _AGE_RE.fullmatch(value or ""):
        return cutoff(value, now=now)
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"{value!r} is not a date (use 2026-11-01, 2026-11-01T08:00 or an age like 7d).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return utc_stamp(moment)
    except OverflowError:  # 0001-01-01T00:00+05:00 is before the year 1 in UTC
        raise _out_of_range(value) from None


def _out_of_range(value: str) -> QueryError:
    return QueryError(f"{value!r} is out of range (times must fall between the years 1 and 9999).")


def check_limit(limit: int) -> int:
    """A row count for a query, 1 to MAX_ROWS."""
    if not 1 <= limit <= MAX_ROWS:
        raise QueryError(f"{limit} rows is out of range (ask for 1 to {MAX_ROWS}).")
    return limit


def _where(engine: sa.Engine, f: Filters):
    conds = []
    if f.refused:  # what the corpus could not answer: an emergency notice is not a refusal
        conds.append(exchanges.c.refused.is_(True))
        conds.append(exchanges.c.emergency.is_(False))
    if f.negative:
        conds.append(exchanges.c.feedback == "down")
    if f.since:
        conds.append(exchanges.c.ts >= f.since)
    if f.until:
        conds.append(exchanges.c.ts < f.until)
    if f.user:
        conds.append(exchanges.c.user_id == f.user)
    if f.channel:
        conds.append(exchanges.c.channel == f.channel)
    if f.text:
        conds.append(_text_match(engine, f.text))
    return sa.and_(sa.true(), *conds)


def _text_match(engine: sa.Engine, text: str):
    text = text.strip()
    like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if engine.dialect.name == "postgresql":
        return sa.or_(exchanges.c.question.ilike(like, escape="\\"), exchanges.c.reply.ilike(like, escape="\\"))
    if len(text) >= 3:
        phrase = '"' + text.replace('"', '""') + '"'
        fts = sa.text("SELECT rowid FROM exchanges_fts WHERE exchanges_fts MATCH :phrase").bindparams(phrase=phrase)
        return sa.literal_column("exchanges.rowid").in_(fts)
    return sa.or_(exchanges.c.question.like(like, escape="\\"), exchanges.c.reply.like(like, escape="\\"))


def list_exchanges(engine: sa.Engine, f: Filters, limit: int = 20) -> list[dict]:
    """Exchanges matching `f`, newest first."""
    query = sa.select(exchanges).where(_where(engine, f)).order_by(exchanges.c.ts.desc(), exchanges.c.id)
    query = query.limit(check_limit(limit))
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def get_exchange(engine: sa.Engine, exchange_id: str) -> dict | None:
    """One exchange with its hits; a unique id prefix is enough."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(exchanges).where(exchanges.c.id.startswith(exchange_id, autoescape=True)).limit(2)).fetchall()
        if len(rows) != 1:
            return None
        out = dict(rows[0]._mapping)
        out["hits"] = _hits_of(conn, out["id"])
    return out


def _hits_of(conn: sa.Connection, exchange_id: str) -> list[dict]:
    """An exchange's retrieved passages, in rank order."""
    query = (
        sa.select(hits.c.rank, hits.c.chunk_id, hits.c.article, hits.c.title, hits.c.score, hits.c.shown)
        .where(hits.c.exchange_id == exchange_id)
        .order_by(hits.c.rank)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def iter_exchanges(engine: sa.Engine, f: Filters):
    """All matching exchanges, oldest first, each with its hits (for export)."""
    query = sa.select(exchanges).where(_where(engine, f)).order_by(exchanges.c.ts, exchanges.c.id)
    with engine.connect() as conn:
        for row in conn.execute(query).fetchall():
            item = dict(row._mapping)
            item["hits"] = _hits_of(conn, item["id"])
            yield item


MAX_GAP_QUESTIONS = 5000  # the newest unanswered questions considered for content gaps


def group_similar(questions: list[str], threshold: float = UNANSWERED_SIMILARITY) -> list[dict]:
    """Group questions that share most of their keywords (any member counts); biggest groups first."""
    groups: list[dict] = []
    for question in questions:
        words = keywords(question)
        for group in groups:
            if any(similarity(words, other) >= threshold for other in group["_words"]):
                group["count"] += 1
                group["variants"][question] += 1
                group["_words"].append(words)
                break
        else:
            groups.append({"_words": [words], "count": 1, "variants": Counter({question: 1})})
    out = []
    for group in sorted(groups, key=lambda g: -g["count"]):
        variants = [q for q, _ in group["variants"].most_common()]
        out.append({"question": variants[0], "count": group["count"], "variants": variants[:5]})
    return out


def stats(engine: sa.Engine, f: Filters, top: int = 10) -> dict:
    """Exchanges per day, refusal rate, feedback ratio, content gaps and most cited articles."""
    where = _where(engine, f)
    top = check_limit(top)
    day = sa.func.substr(exchanges.c.ts, 1, 10)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(exchanges).where(where)).scalar_one()
        per_day = conn.execute(
            sa.select(day.label("day"), sa.func.count().label("n")).where(where).group_by(day).order_by(day)
        ).fetchall()
        not_emergency = exchanges.c.emergency.is_(False)  # emergencies are counted as such, never as refusals
        refused = conn.execute(
            sa.select(sa.func.count()).select_from(exchanges).where(where, exchanges.c.refused.is_(True), not_emergency)
        ).scalar_one()
        emergencies = conn.execute(sa.select(sa.func.count()).select_from(exchanges).where(where, exchanges.c.emergency.is_(True))).scalar_one()
        feedback = dict(
            conn.execute(
                sa.select(exchanges.c.feedback, sa.func.count()).where(where, exchanges.c.feedback.is_not(None)).group_by(exchanges.c.feedback)
            ).fetchall()
        )
        unanswered = [
            r[0]
            for r in conn.execute(
                sa.select(exchanges.c.question)
                .where(where, exchanges.c.refused.is_(True), not_emergency)
                .order_by(exchanges.c.ts.desc())
                .limit(MAX_GAP_QUESTIONS)
            )
        ]
        cited = conn.execute(
            sa.select(hits.c.article, sa.func.max(hits.c.title).label("title"), sa.func.count().label("n"))
            .select_from(hits.join(exchanges, hits.c.exchange_id == exchanges.c.id))
            .where(where, hits.c.shown.is_(True))
            .group_by(hits.c.article)
            .order_by(sa.desc("n"), hits.c.article)
            .limit(top)
        ).fetchall()
        latency = conn.execute(sa.select(sa.func.avg(exchanges.c.latency_ms)).where(where)).scalar_one()
    up, down = feedback.get("up", 0), feedback.get("down", 0)
    return {
        "exchanges": total,
        "per_day": [{"day": d, "exchanges": n} for d, n in per_day],
        "refused": refused,
        "refusal_rate": round(refused / total, 4) if total else 0.0,
        "emergencies": emergencies,
        "feedback": {"up": up, "down": down, "positive_ratio": round(up / (up + down), 4) if up + down else None,
                     "share_with_feedback": round((up + down) / total, 4) if total else 0.0},
        "avg_latency_ms": round(float(latency), 1) if latency is not None else None,
        "unanswered": group_similar(unanswered)[:top],
        "most_cited": [{"article": a, "title": t, "times_quoted": n} for a, t, n in cited],
    }


def count_before(engine: sa.Engine, before: str) -> int:
    """How many exchanges `purge(engine, before)` would delete."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(exchanges).where(exchanges.c.ts < before)).scalar_one()


def purge(engine: sa.Engine, before: str) -> int:
    """Delete exchanges (and their hits) older than `before`; returns how many."""
    old = sa.select(exchanges.c.id).where(exchanges.c.ts < before)
    with engine.begin() as conn:
        conn.execute(hits.delete().where(hits.c.exchange_id.in_(old)))
        return conn.execute(exchanges.delete().where(exchanges.c.ts < before)).rowcount
