"""Content gaps: the questions the articles could not answer, grouped by meaning.

Candidates are logged exchanges that were refused and not flagged as emergencies,
within the operator's filters, newest first (at most `MAX_QUESTIONS`). Left out,
each counted by reason:

- `no_words`: nothing to read (no letter: emoji, digits, punctuation);
- `greeting`: greetings and pleasantries (`retrieval.followup.is_social`);
  these two are small talk, as `convlog.smalltalk` defines it for every count;
- `follow_up`: a message that leans on the conversation (the bot read it with the previous
  question: its `follow_up` column, or for rows logged before that column its `searched`;
  or `followup.leans_on_context`, or it asks for more of the previous answer,
  `pipeline.asks_for_more`): on its own it is no question to write for. A question searched
  in another form only (typos mended, traditional characters simplified, a greeting left
  out) is a question like any other;
- `emergency`: an emergency by the current red-flag rules and meaning layer (rows
  logged before a rule existed are not flagged in the log);
- `handled`: exchanges an operator marked handled (`mark_handled`, `mark_group`;
  table `gap_marks`), unless `include_handled`.

Grouping: questions identical once folded (`common.text.fold`) are one; each is
embedded once ever (the data folder's vector cache) as a passage, and the mean vector
of ordinary questions in its language (data/background_questions.txt) is taken away.
Distances are cosine distances, less `CROSS_LANGUAGE` between a Chinese and an
English question; average-linkage agglomerative clustering joins two groups while
their mean distance is below `THRESHOLD`.

The recipe, the threshold and the offset are what `bench/gaps.py` measured on the
labelled set tests/data/gap_groups.toml (74 groups, 299 questions, split by family
into a tune and a held-out half; the pair maximises the tune half's adjusted Rand
index). Held out: ARI 0.873, pairwise precision 0.935, recall 0.824. Passage vectors
beat question vectors ("query: "); without the language background and the offset
a Chinese and an English wording of one question almost never meet (held-out ARI
0.527, recall across languages 0.08 against 0.83): the raw cosine of a translation
(0.84) is that of two unrelated questions in one language.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from common.clock import utc_stamp
from common.text import detect_language, fold, normalize_space
from convlog.records import read_with_context
from convlog.review import Filters, _where
from convlog.schema import exchanges, gap_marks
from convlog.smalltalk import GREETING, NO_WORDS, kind
from embeddings.base import Encoder
from retrieval import followup
from retrieval.languages import cached_vectors
from retrieval.pipeline import asks_for_more
from retrieval.safety import RedFlags
from retrieval.vectorcache import VectorCache

THRESHOLD = 0.34  # mean distance below which two groups are joined (average linkage); calibrated by bench/gaps.py
CROSS_LANGUAGE = 0.5  # taken off the cosine distance of a Chinese and an English question; calibrated likewise
MAX_QUESTIONS = 3000  # the newest unanswered exchanges considered
EXAMPLES = 5
BACKGROUND = Path(__file__).resolve().parent / "data" / "background_questions.txt"
REASONS = (NO_WORDS, GREETING, "follow_up", "emergency", "handled")


@dataclass
class GapGroup:
    """One content gap: unanswered questions that mean the same."""

    key: str  # short sha1 of the sorted exchange ids
    label: str  # the question closest to the group's centre
    count: int  # exchanges (repeats counted)
    examples: list[str]  # distinct questions, most frequent first
    first_ts: str
    last_ts: str
    exchange_ids: list[str]
    langs: list[str]
    handled: bool = False  # every exchange of the group is marked handled
    handled_ts: str | None = None  # the latest mark
    questions: list[tuple[str, str]] = field(default_factory=list, repr=False)  # (exchange id, question), newest first

    def to_dict(self) -> dict:
        """As JSON-ready data (without `questions`: `exchange_ids` and `examples` say it)."""
        out = asdict(self)
        del out["questions"]
        return out


@dataclass
class GapReport:
    """The groups (biggest first, then most recent), and what was looked at and left out."""

    groups: list[GapGroup]
    considered: int  # unanswered exchanges looked at (grouped + excluded)
    excluded: dict[str, int] = field(default_factory=dict)  # by reason (REASONS)
    capped: bool = False  # more than MAX_QUESTIONS unanswered exchanges: the older ones were not read
    flagged: int = 0  # of `considered`, the emergencies the log flagged (counted in excluded["emergency"], never read)

    @property
    def grouped(self) -> int:
        return sum(g.count for g in self.groups)

    @property
    def read(self) -> int:
        """The unanswered exchanges read (MAX_QUESTIONS at most): neither handled nor flagged emergencies."""
        return self.considered - self.excluded.get("handled", 0) - self.flagged

    def group(self, key: str) -> GapGroup | None:
        return next((g for g in self.groups if g.key == key), None)

    def to_dict(self) -> dict:
        return {"groups": [g.to_dict() for g in self.groups], "considered": self.considered, "grouped": self.grouped,
                "excluded": dict(self.excluded), "capped": self.capped}  # fmt: skip


def load_background(path: Path = BACKGROUND) -> list[str]:
    """The ordinary questions whose mean vector per language is taken away before grouping."""
    lines = (line.strip() for line in Path(path).read_text("utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def distances(vectors: np.ndarray, langs: list[str], cross_language: float = CROSS_LANGUAGE) -> np.ndarray:
    """Condensed cosine distances between unit vectors, less `cross_language` for two
    questions in different languages (never below 0)."""
    from scipy.spatial.distance import squareform

    x = np.asarray(vectors, dtype=np.float64)
    square = x @ x.T  # in place from here: 3,000 questions make a 72 MB matrix
    np.subtract(1.0, square, out=square)
    if cross_language:
        lang = np.asarray(langs)
        for one in set(langs):
            rows = lang == one
            square[np.ix_(rows, ~rows)] -= cross_language
    np.clip(square, 0.0, None, out=square)
    np.fill_diagonal(square, 0.0)
    return squareform(square, checks=False)  # the upper triangle


def tree(vectors: np.ndarray, langs: list[str], cross_language: float = CROSS_LANGUAGE) -> np.ndarray:
    """The average-linkage merge tree (scipy) of at least two questions."""
    from scipy.cluster.hierarchy import linkage

    return linkage(distances(vectors, langs, cross_language), method="average")


def cluster(vectors: np.ndarray, langs: list[str], threshold: float = THRESHOLD, cross_language: float = CROSS_LANGUAGE) -> list[int]:
    """Average-linkage agglomerative clustering: a group number per row; two groups are
    joined while their mean distance (`distances`) is below `threshold`."""
    if len(vectors) < 2:
        return [1] * len(vectors)
    from scipy.cluster.hierarchy import fcluster

    return [int(c) for c in fcluster(tree(vectors, langs, cross_language), t=threshold, criterion="distance")]


class GapGrouper:
    """Groups unanswered questions by meaning with one embedding model.

    `cache`: the data folder's vector cache (each distinct question is embedded once
    ever); `red_flags`: the current rules (and meaning layer) that recognise
    emergencies the log did not flag."""

    def __init__(self, encoder: Encoder, cache: VectorCache | None, red_flags: RedFlags | None, *, threshold: float = THRESHOLD,
                 cross_language: float = CROSS_LANGUAGE, limit: int = MAX_QUESTIONS, background: Path = BACKGROUND):  # fmt: skip
        self.encoder = encoder
        self.cache = cache
        self.red_flags = red_flags
        self.threshold = threshold
        self.cross_language = cross_language
        self.limit = limit
        self.background_path = background
        self._background: dict[str, np.ndarray] | None = None

    # -- meaning ---------------------------------------------------------------

    def background(self) -> dict[str, np.ndarray]:
        """The mean passage vector of ordinary questions, per language."""
        if self._background is None:
            texts = load_background(self.background_path)
            langs = np.array([detect_language(t) for t in texts])
            vectors = cached_vectors(self.encoder, texts, query=False, cache=self.cache).astype(np.float64)
            self._background = {lang: vectors[langs == lang].mean(axis=0) for lang in sorted(set(langs))}
        return self._background

    def vectors(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of questions for grouping: as passages, less their language's background."""
        if not texts:
            return np.zeros((0, self.encoder.dim))
        ground = self.background()
        out = cached_vectors(self.encoder, texts, query=False, cache=self.cache).astype(np.float64)
        for row, text in enumerate(texts):
            out[row] -= ground.get(detect_language(text), 0.0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    def group(self, texts: list[str]) -> list[int]:
        """A group number for each question (distinct texts expected)."""
        return cluster(self.vectors(texts), [detect_language(t) for t in texts], self.threshold, self.cross_language)

    def emergencies(self, texts: list[str]) -> list[bool]:
        """Which messages the current red flags call an emergency (rules, then meaning)."""
        if self.red_flags is None:
            return [False] * len(texts)
        out = [self.red_flags.by_rules(t) is not None for t in texts]
        meaning = self.red_flags.meaning
        if meaning is None:
            return out
        # a general question or a bare figure of speech is not read for meaning (for_meaning gives "")
        readable = {i: self.red_flags.for_meaning(texts[i]) for i, flagged in enumerate(out) if not flagged}
        rest = [i for i, text in readable.items() if text.strip()]
        if not rest:
            return out
        read = [readable[i] for i in rest]
        if meaning.encoder.name == self.encoder.name:  # the layer's own vectors, from the cache
            vectors = cached_vectors(self.encoder, read, query=True, cache=self.cache)
            for i, text, vector in zip(rest, read, vectors):
                out[i] = meaning.category_of_vector(vector, text) in self.red_flags.by_name
        else:
            for i, text in zip(rest, read):
                out[i] = meaning.category(text) in self.red_flags.by_name
        return out

    # -- the report ------------------------------------------------------------

    def report(self, engine: sa.Engine, filters: Filters | None = None, *, include_handled: bool = False) -> GapReport:
        """The content gaps among the unanswered exchanges that `filters` select."""
        rows, handled_out, capped, flagged = _candidates(engine, filters or Filters(), include_handled, self.limit)
        excluded = Counter({reason: 0 for reason in REASONS})
        excluded["handled"], excluded["emergency"] = handled_out, flagged
        kept = []
        for row in rows:
            reason = _reason(row["question"], row["searched"], row["follow_up"])
            if reason:
                excluded[reason] += 1
            else:
                kept.append(row)
        # one entry per distinct question (folded); its most frequent wording is what is embedded and shown
        forms: dict[str, Counter] = {}
        for row in kept:
            forms.setdefault(fold(row["question"]), Counter())[normalize_space(row["question"])] += 1
        keys = list(forms)
        texts = [forms[k].most_common(1)[0][0] for k in keys]
        emergency = dict(zip(keys, self.emergencies(texts)))
        excluded["emergency"] += sum(1 for row in kept if emergency[fold(row["question"])])
        kept = [row for row in kept if not emergency[fold(row["question"])]]
        keys = [k for k in keys if not emergency[k]]
        texts = [forms[k].most_common(1)[0][0] for k in keys]
        vectors = self.vectors(texts)
        labels = cluster(vectors, [detect_language(t) for t in texts], self.threshold, self.cross_language)
        members: dict[int, list[int]] = {}
        for i, label in enumerate(labels):
            members.setdefault(label, []).append(i)
        rows_of: dict[str, list[dict]] = {}
        for row in kept:
            rows_of.setdefault(fold(row["question"]), []).append(row)
        groups = [self._group([keys[i] for i in idx], vectors[idx], forms, rows_of) for idx in members.values()]
        groups.sort(key=lambda g: g.key)
        groups.sort(key=lambda g: g.last_ts, reverse=True)
        groups.sort(key=lambda g: g.count, reverse=True)  # stable: count, then the latest, then key
        return GapReport(groups, considered=len(rows) + handled_out + flagged, excluded=dict(excluded), capped=capped, flagged=flagged)

    def _group(self, keys: list[str], vectors: np.ndarray, forms: dict[str, Counter], rows_of: dict[str, list[dict]]) -> GapGroup:
        rows = [row for k in keys for row in rows_of[k]]
        weights = np.array([len(rows_of[k]) for k in keys], dtype=np.float64)
        centre = (vectors * weights[:, None]).sum(axis=0)
        label_key = keys[int(np.argmax(vectors @ centre))]
        rows.sort(key=lambda r: (r["ts"], r["id"]), reverse=True)
        ids = sorted(row["id"] for row in rows)
        ts = sorted(row["ts"] for row in rows)
        by_count = sorted(keys, key=lambda k: max(r["ts"] for r in rows_of[k]), reverse=True)
        by_count.sort(key=lambda k: len(rows_of[k]), reverse=True)  # most frequent, then most recent
        marks = [row["handled_ts"] for row in rows]
        return GapGroup(
            key=hashlib.sha1("\n".join(ids).encode()).hexdigest()[:12],
            label=forms[label_key].most_common(1)[0][0],
            count=len(rows),
            examples=[forms[k].most_common(1)[0][0] for k in by_count[:EXAMPLES]],
            first_ts=ts[0],
            last_ts=ts[-1],
            exchange_ids=ids,
            langs=sorted({row["lang"] for row in rows}),
            handled=all(marks),
            handled_ts=max((m for m in marks if m), default=None),
            questions=[(row["id"], row["question"]) for row in rows],
        )


def _reason(question: str, searched: str | None, follow_up: bool | None = None) -> str | None:
    """Why an unanswered exchange is no content gap (a reason of REASONS), or None. `follow_up`:
    whether the bot read it with the conversation's previous question (None: logged before that
    was recorded, convlog.records.read_with_context)."""
    small_talk = kind(question)  # NO_WORDS or GREETING
    if small_talk:
        return small_talk
    if read_with_context(searched, follow_up) or followup.leans_on_context(question) or asks_for_more(question):
        return "follow_up"  # "还有呢" refused: the question it asked more of had no more (or there was none)
    return None


def _candidates(engine: sa.Engine, filters: Filters, include_handled: bool, limit: int) -> tuple[list[dict], int, bool, int]:
    """(the newest unanswered exchanges, how many handled ones were left out, whether the limit
    cut, how many the log flagged as emergencies: left out, and counted)."""
    selected = _where(engine, filters)
    unanswered = sa.and_(selected, exchanges.c.refused.is_(True), exchanges.c.emergency.is_(False))
    marked = sa.select(gap_marks.c.exchange_id)
    query = (
        sa.select(exchanges.c.id, exchanges.c.ts, exchanges.c.lang, exchanges.c.question, exchanges.c.searched,
                  exchanges.c.follow_up, gap_marks.c.handled_ts)
        .select_from(exchanges.outerjoin(gap_marks, gap_marks.c.exchange_id == exchanges.c.id))
        .where(unanswered)
        .order_by(exchanges.c.ts.desc(), exchanges.c.id)
        .limit(limit + 1)
    )
    if not include_handled:
        query = query.where(exchanges.c.id.not_in(marked))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
        flagged = conn.execute(sa.select(sa.func.count()).select_from(exchanges).where(selected, exchanges.c.emergency.is_(True))).scalar_one()
        handled = 0
        if not include_handled:
            handled = conn.execute(
                sa.select(sa.func.count()).select_from(exchanges).where(unanswered, exchanges.c.id.in_(marked))
            ).scalar_one()
    return rows[:limit], handled, len(rows) > limit, flagged


# -- marking gaps handled ------------------------------------------------------


def mark_handled(engine: sa.Engine, exchange_ids: Iterable[str], note: str | None = None) -> int:
    """Mark exchanges handled (their gap was dealt with); returns how many were newly marked
    (ids already marked or not in the log are skipped)."""
    wanted = list(dict.fromkeys(exchange_ids))
    now = utc_stamp()
    marked = 0
    with engine.begin() as conn:
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            existing = {r[0] for r in conn.execute(sa.select(exchanges.c.id).where(exchanges.c.id.in_(part)))}
            done = {r[0] for r in conn.execute(sa.select(gap_marks.c.exchange_id).where(gap_marks.c.exchange_id.in_(part)))}
            new = [i for i in part if i in existing and i not in done]
            if new:
                conn.execute(_insert_ignoring_duplicates(engine), [{"exchange_id": i, "handled_ts": now, "note": note} for i in new])
                marked += len(new)
    return marked


def unmark_handled(engine: sa.Engine, exchange_ids: Iterable[str]) -> int:
    """Undo `mark_handled`; returns how many marks were removed."""
    wanted = list(dict.fromkeys(exchange_ids))
    removed = 0
    with engine.begin() as conn:
        for start in range(0, len(wanted), 500):
            removed += conn.execute(gap_marks.delete().where(gap_marks.c.exchange_id.in_(wanted[start : start + 500]))).rowcount
    return removed


def _insert_ignoring_duplicates(engine: sa.Engine):
    """INSERT ... ON CONFLICT DO NOTHING (another operator may mark the same exchange at once)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(gap_marks).on_conflict_do_nothing(index_elements=["exchange_id"])


def mark_group(engine: sa.Engine, grouper: GapGrouper, filters: Filters | None, key: str, note: str | None = None, *,
               undo: bool = False) -> int | None:  # fmt: skip
    """Mark the exchanges of the gap `key` (as `grouper.report` with these filters groups them)
    handled (`undo`: no longer handled); returns how many marks were added (removed), or None
    when no group has that key any more (new questions joined it, or it was marked since)."""
    for include_handled in (True,) if undo else (False, True):
        found = grouper.report(engine, filters, include_handled=include_handled).group(key)
        if found is not None:
            return unmark_handled(engine, found.exchange_ids) if undo else mark_handled(engine, found.exchange_ids, note)
    return None


def open_grouper(config, encoders: list[Encoder] | None = None) -> GapGrouper:
    """The grouper for a configuration (bot.config.Config): the packaged multilingual-e5-small
    (the threshold is calibrated for it; the configured instance when it is a configured
    model, or the one among `encoders` already loaded, e.g. a pipeline's), the data folder's
    vector cache, and the red-flag rules with their meaning layer (unless
    ARTICLEBOT_REDFLAG_MEANING=0) on that same model."""
    from embeddings import load_encoder
    from retrieval.redflag_meaning import (
        DEFAULT_EXAMPLES,
        MODEL,
        Examples,
        MeaningLayer,
    )
    from retrieval.safety import DEFAULT_RULES

    encoder = next((e for e in encoders or () if e.name == MODEL), None)
    if encoder is None:  # as bot.service.make_encoders loads it (ARTICLEBOT_QUERY_PREFIX applies to the primary model)
        prefix = config.query_prefix if config.model == MODEL else None
        encoder = load_encoder(MODEL, backend=config.backend, query_prefix=prefix, cache_dir=config.model_cache)
    cache = VectorCache.in_data_dir(config.data_dir)
    meaning = MeaningLayer(Examples.load(config.redflag_examples or DEFAULT_EXAMPLES), encoder, cache) if config.redflag_meaning else None
    return GapGrouper(encoder, cache, RedFlags.load(config.redflags or DEFAULT_RULES, meaning=meaning))
