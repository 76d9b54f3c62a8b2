"""Queries over the conversation log for operators: list, show, stats, export (purge: retention.py).

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
from convlog.retention import AGE_RE, QueryError, cutoff, out_of_range
from convlog.schema import exchanges, hits
from convlog.smalltalk import SMALL_TALK_CHARS, is_small_talk
from convlog.smalltalk import asks_nothing as _asks_nothing


@dataclass
class Filters:
    """What to select; every field is optional."""

    refused: bool = False  # refused by the corpus: neither an emergency nor small talk (convlog.smalltalk)
    negative: bool = False
    since: str | None = None  # utc_stamp text, inclusive
    until: str | None = None  # exclusive
    user: str | None = None
    text: str | None = None
    channel: str | None = None
    outcome: str | None = None  # one of OUTCOMES
    feedback: str | None = None  # "up", "down" or "none"
    lang: str | None = None


# What happened to a question: quoted from the articles, not covered by them (a refusal: never
# an emergency notice, nor small talk), an emergency notice, small talk answered in kind
# (greetings, thanks, no words: convlog.smalltalk), or a reply that could not be delivered.
OUTCOMES = ("answered", "not_covered", "emergency", "small_talk", "undelivered")
FEEDBACKS = ("up", "down", "none")


def check_choice(name: str, value: str | None, choices: tuple[str, ...]) -> str | None:
    """`value` if it is one of `choices` (or empty: None), else a QueryError naming them."""
    if value in (None, ""):
        return None
    if value not in choices:
        article = "an" if name[:1].lower() in "aeiou" else "a"
        raise QueryError(f"{value!r} is not {article} {name} (use one of: {', '.join(choices)}).")
    return value


MAX_ROWS = 1_000_000  # the most rows list or stats may be asked for (SQL limits are 64-bit integers)


def parse_when(value: str, *, now: datetime | None = None) -> str:
    """A time filter: 2026-11-01, 2026-11-01T08:00, or an age such as 7d, 2w, 12h, 30min."""
    if AGE_RE.fullmatch(value or ""):
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
        raise out_of_range(value) from None


def parse_until(value: str, *, now: datetime | None = None) -> str:
    """The end of a time filter (exclusive), in the forms of `parse_when`: a date alone includes
    that whole day ("--until 2026-11-24" selects the 24th too, as the console's "To" date does);
    a time or an age is the moment it names."""
    end = parse_when(value, now=now)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", (value or "").strip()):
        try:
            return utc_stamp(datetime.fromisoformat(end.replace("Z", "+00:00")) + timedelta(days=1))
        except OverflowError:  # 9999-12-31: nothing comes after it
            return end[:10] + "T23:59:59.999Z"
    return end


def check_limit(limit: int) -> int:
    """A row count for a query, 1 to MAX_ROWS."""
    if not 1 <= limit <= MAX_ROWS:
        raise QueryError(f"{limit} rows is out of range (ask for 1 to {MAX_ROWS}).")
    return limit


def _where(engine: sa.Engine, f: Filters):
    conds = []
    if f.refused:  # what the corpus could not answer: an emergency notice is not a refusal
        conds.append(_not_covered())
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
    if f.lang:
        conds.append(exchanges.c.lang == f.lang)
    if f.text and f.text.strip():
        conds.append(_text_match(engine, f.text))
    if f.outcome and check_choice("outcome", f.outcome, OUTCOMES) != "small_talk":
        conds.append(_outcome(f.outcome))
    if f.feedback:
        wanted = check_choice("feedback", f.feedback, FEEDBACKS)
        conds.append(exchanges.c.feedback.is_(None) if wanted == "none" else exchanges.c.feedback == wanted)
    where = sa.and_(sa.true(), *conds)
    if f.refused or f.outcome == "not_covered":  # a greeting is no refusal, as the overview and `logs stats` count it
        where = sa.and_(where, exchanges.c.question.not_in(_small_talk_texts(engine, where)))
    elif f.outcome == "small_talk":
        where = sa.and_(where, _not_covered(), exchanges.c.question.in_(_small_talk_texts(engine, where)))
    return where


def _not_covered():
    """Refused and no emergency (small talk among them is _where's to leave out)."""
    return sa.and_(exchanges.c.refused.is_(True), exchanges.c.emergency.is_(False))


def _small_talk_candidates(where):
    """The exchanges within `where` that may be small talk: short refused messages, emergencies aside."""
    return sa.and_(where, _not_covered(), sa.func.length(exchanges.c.question) <= SMALL_TALK_CHARS)


def _small_talk_texts(engine: sa.Engine, where) -> list[str]:
    """The distinct messages within `where` that are small talk (convlog.smalltalk.is_small_talk):
    an exchange within `where` and not covered is small talk exactly when its text is one of them."""
    query = sa.select(exchanges.c.question).where(_small_talk_candidates(where)).distinct()
    with engine.connect() as conn:
        return [question for (question,) in conn.execute(query) if _asks_nothing(question)]


def _outcome(outcome: str):
    """The condition for one of OUTCOMES."""
    if outcome == "emergency":
        return exchanges.c.emergency.is_(True)
    if outcome == "not_covered":
        return _not_covered()
    if outcome == "answered":
        return sa.and_(exchanges.c.refused.is_(False), exchanges.c.emergency.is_(False))
    return exchanges.c.delivery_error.is_not(None)


def outcome_of(row) -> str:
    """The outcome of a logged exchange (a row or dict with question, refused and emergency):
    answered, not_covered, emergency or small_talk, as the filters select them (undelivered is
    a filter, shown beside the outcome)."""
    if row["emergency"]:
        return "emergency"
    if is_small_talk(row):
        return "small_talk"
    return "not_covered" if row["refused"] else "answered"


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
        # a range, not LIKE: the primary key's index serves it (ids are hex; a prefix of anything else matches nothing)
        prefix = sa.and_(exchanges.c.id >= exchange_id, exchanges.c.id < exchange_id + "\uffff")
        rows = conn.execute(sa.select(exchanges).where(prefix).limit(2)).fetchall()
        if len(rows) != 1:
            return None
        out = dict(rows[0]._mapping)
        out["hits"] = _hits_of(conn, out["id"])
    return out


_HIT_COLUMNS = (hits.c.rank, hits.c.chunk_id, hits.c.article, hits.c.title, hits.c.score, hits.c.shown)
_HIT_ORDER = (hits.c.score.desc(), hits.c.rank)  # highest relevance first (rank: the fused order, a tie-break)


def _hits_of(conn: sa.Connection, exchange_id: str) -> list[dict]:
    """An exchange's retrieved passages, highest score first."""
    query = sa.select(*_HIT_COLUMNS).where(hits.c.exchange_id == exchange_id).order_by(*_HIT_ORDER)
    return [dict(r._mapping) for r in conn.execute(query)]


def _hits_of_many(conn: sa.Connection, ids: list[str]) -> dict[str, list[dict]]:
    """The hits of several exchanges (one query), each list highest score first."""
    out: dict[str, list[dict]] = {i: [] for i in ids}
    if ids:
        query = sa.select(hits.c.exchange_id, *_HIT_COLUMNS).where(hits.c.exchange_id.in_(ids))
        for row in conn.execute(query.order_by(hits.c.exchange_id, *_HIT_ORDER)):
            item = dict(row._mapping)
            out[item.pop("exchange_id")].append(item)
    return out


EXPORT_BATCH = 500  # exchanges read (with their hits) per round trip while exporting


def iter_exchanges(engine: sa.Engine, f: Filters):
    """All matching exchanges, oldest first, each with its hits (for export), read in batches
    so that memory stays flat however many there are."""
    query = sa.select(exchanges).where(_where(engine, f)).order_by(exchanges.c.ts, exchanges.c.id)
    with engine.connect() as conn:
        last: tuple[str, str] | None = None
        while True:
            page = query if last is None else query.where(
                sa.or_(exchanges.c.ts > last[0], sa.and_(exchanges.c.ts == last[0], exchanges.c.id > last[1]))
            )
            rows = [dict(r._mapping) for r in conn.execute(page.limit(EXPORT_BATCH))]
            if not rows:
                return
            found = _hits_of_many(conn, [r["id"] for r in rows])
            for item in rows:
                item["hits"] = found[item["id"]]
                yield item
            last = (rows[-1]["ts"], rows[-1]["id"])


@dataclass
class Page:
    """One page of a list of exchanges, newest first, and the cursor of the next page."""

    rows: list[dict]
    total: int  # every exchange the filters select
    next_cursor: str | None  # give it back as `cursor` for the next page (None: last page)


def page_exchanges(engine: sa.Engine, f: Filters, *, size: int = 50, cursor: str | None = None) -> Page:
    """A page of matching exchanges, newest first; `cursor` (from the previous page) continues
    after its last row (a keyset: as fast on page 2000 as on page 1)."""
    where = _where(engine, f)
    query = sa.select(exchanges).where(where).order_by(exchanges.c.ts.desc(), exchanges.c.id.desc())
    if cursor:
        ts, _, last_id = cursor.partition("|")
        query = query.where(sa.or_(exchanges.c.ts < ts, sa.and_(exchanges.c.ts == ts, exchanges.c.id < last_id)))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.limit(check_limit(size) + 1))]
        total = conn.execute(sa.select(sa.func.count()).select_from(exchanges).where(where)).scalar_one()
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, total, f"{rows[-1]['ts']}|{rows[-1]['id']}" if more else None)


def facets(engine: sa.Engine) -> dict[str, list[str]]:
    """The channels and languages the log holds (for the filters' choices)."""
    with engine.connect() as conn:
        return {
            "channels": [r[0] for r in conn.execute(sa.select(exchanges.c.channel).distinct().order_by(exchanges.c.channel))],
            "langs": [r[0] for r in conn.execute(sa.select(exchanges.c.lang).distinct().order_by(exchanges.c.lang))],
        }


# Answer-time buckets of the overview, in milliseconds (the last is open-ended).
LATENCY_BUCKETS = (250, 500, 1000, 2000, 5000, 10000)


def latency_label(index: int) -> str:
    """The label of LATENCY_BUCKETS' bucket `index` (e.g. "0.5–1 s", "≥ 10 s")."""
    def s(ms: int) -> str:
        return f"{ms / 1000:g}"
    if index == 0:
        return f"< {s(LATENCY_BUCKETS[0])} s"
    if index == len(LATENCY_BUCKETS):
        return f"≥ {s(LATENCY_BUCKETS[-1])} s"
    return f"{s(LATENCY_BUCKETS[index - 1])}–{s(LATENCY_BUCKETS[index])} s"


def small_talk_per_day(engine: sa.Engine, where) -> Counter:
    """{day: how many exchanges within `where` (a filter's _where) were small talk
    (convlog.smalltalk)}. Only short messages are read, each distinct one once a day, so a large
    log costs little more than the overview's own query."""
    day = sa.func.substr(exchanges.c.ts, 1, 10)
    short = _small_talk_candidates(where)
    query = sa.select(day, exchanges.c.question, sa.func.count()).where(short).group_by(day, exchanges.c.question)
    per_day: Counter = Counter()
    with engine.connect() as conn:
        for d, question, n in conn.execute(query):
            if _asks_nothing(question):
                per_day[d] += n
    return per_day


def overview(engine: sa.Engine, f: Filters) -> dict:
    """What the overview page charts, from one pass over the selected exchanges: per day the
    questions by outcome and the 👍 / 👎, the answer-time distribution, languages and channels.

    Refused messages that were no question (greetings, thanks, no words: convlog.smalltalk) are
    counted as `small_talk`, not as `not_covered`, and `questions` is every exchange but them
    (`exchanges`: all of them)."""
    day = sa.func.substr(exchanges.c.ts, 1, 10).label("day")
    bucket = sa.case(
        (exchanges.c.latency_ms.is_(None), -1),  # not timed: left out of the distribution
        *[(exchanges.c.latency_ms < edge, i) for i, edge in enumerate(LATENCY_BUCKETS)],
        else_=len(LATENCY_BUCKETS),
    ).label("bucket")
    keys = (day, exchanges.c.refused, exchanges.c.emergency, exchanges.c.feedback, exchanges.c.lang, exchanges.c.channel, bucket)
    where = _where(engine, f)
    query = sa.select(*keys, sa.func.count().label("n")).where(where)
    with engine.connect() as conn:
        rows = conn.execute(query.group_by(*keys)).fetchall()
    days: dict[str, dict] = {}
    outcomes = dict.fromkeys(("answered", "not_covered", "emergency"), 0)
    feedback = {"up": 0, "down": 0}
    latency = [0] * (len(LATENCY_BUCKETS) + 1)
    langs: Counter = Counter()
    channels: Counter = Counter()
    outcomes["small_talk"] = 0
    for d, refused, emergency, fb, lang, channel, b, n in rows:
        entry = days.setdefault(d, {"day": d, "answered": 0, "not_covered": 0, "emergency": 0, "small_talk": 0, "up": 0, "down": 0})
        outcome = "emergency" if emergency else "not_covered" if refused else "answered"  # small talk: moved below
        entry[outcome] += n
        outcomes[outcome] += n
        if fb in feedback:
            entry[fb] += n
            feedback[fb] += n
        if b >= 0:
            latency[b] += n
        langs[lang] += n
        channels[channel] += n
    for d, n in small_talk_per_day(engine, where).items():
        for counts in (days[d], outcomes):
            counts["not_covered"] -= n
            counts["small_talk"] += n
    total = sum(outcomes.values())
    return {
        "exchanges": total,
        "questions": total - outcomes["small_talk"],
        "outcomes": outcomes,
        "feedback": feedback,
        "per_day": [days[d] for d in sorted(days)],
        "latency": [{"bucket": latency_label(i), "exchanges": n} for i, n in enumerate(latency)],
        "langs": langs.most_common(),
        "channels": channels.most_common(),
    }


def stats(engine: sa.Engine, f: Filters, top: int = 10) -> dict:
    """Exchanges per day, refusal rate, feedback ratio and most cited articles (the content gaps,
    grouped by meaning with the embedding model, are insights.gaps' to add).

    Refused messages that were no question (greetings, thanks, no words: convlog.smalltalk) are
    counted as `small_talk`, out of the refusals and out of the refusal rate's base."""
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
        cited = conn.execute(
            sa.select(hits.c.article, sa.func.max(hits.c.title).label("title"),
                      sa.func.count(hits.c.exchange_id.distinct()).label("n"))  # answers that quoted it, as `logs articles` counts
            .select_from(hits.join(exchanges, hits.c.exchange_id == exchanges.c.id))
            .where(where, hits.c.shown.is_(True))
            .group_by(hits.c.article)
            .order_by(sa.desc("n"), hits.c.article)
            .limit(top)
        ).fetchall()
        latency = conn.execute(sa.select(sa.func.avg(exchanges.c.latency_ms)).where(where)).scalar_one()
    chatter = sum(small_talk_per_day(engine, where).values())
    refused -= chatter
    asked = total - chatter
    up, down = feedback.get("up", 0), feedback.get("down", 0)
    return {
        "exchanges": total,
        "per_day": [{"day": d, "exchanges": n} for d, n in per_day],
        "refused": refused,
        "refusal_rate": round(refused / asked, 4) if asked else 0.0,
        "small_talk": chatter,
        "emergencies": emergencies,
        "feedback": {"up": up, "down": down, "positive_ratio": round(up / (up + down), 4) if up + down else None,
                     "share_with_feedback": round((up + down) / total, 4) if total else 0.0},
        "avg_latency_ms": round(float(latency), 1) if latency is not None else None,
        "most_cited": [{"article": a, "title": t, "times_quoted": n} for a, t, n in cited],
    }
