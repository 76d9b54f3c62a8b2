"""Re-ask: run unanswered questions again against the current index (after a re-index,
which of a gap's questions the articles now answer).

Each distinct question goes through `Pipeline.answer` on its own, without the
conversation it was asked in; "answered" means quoted and not an emergency notice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from convlog.schema import exchanges
from retrieval.pipeline import Pipeline, tidy_question


@dataclass
class ReaskResult:
    """One distinct question asked again."""

    question: str
    exchange_ids: list[str] = field(default_factory=list)  # the logged exchanges that asked it
    answered: bool = False  # passages quoted, and no emergency
    emergency: str | None = None  # the red-flag category, when the message is an emergency
    article: str | None = None  # the top quoted passage's article (path), when answered
    title: str | None = None
    url: str | None = None
    score: float | None = None  # its relevance
    best_score: float | None = None  # the best hit's relevance, quoted or not (how close a refusal came)

    def to_dict(self) -> dict:
        return asdict(self)


def reask(pipeline: Pipeline, questions: Iterable[str | tuple[str, str]]) -> list[ReaskResult]:
    """Ask each distinct question again (identical ones once); `questions` are texts or
    (exchange_id, question) pairs. Results in the order of first appearance."""
    results: dict[str, ReaskResult] = {}
    for item in questions:
        exchange_id, question = (None, item) if isinstance(item, str) else item
        text = tidy_question(question)
        result = results.get(text)
        if result is None:
            result = results[text] = _ask(pipeline, text)
        if exchange_id is not None:
            result.exchange_ids.append(exchange_id)
    return list(results.values())


def _ask(pipeline: Pipeline, question: str) -> ReaskResult:
    answer = pipeline.answer(question)
    result = ReaskResult(question=question, emergency=answer.emergency)
    result.answered = not answer.refused and not answer.emergency and bool(answer.passages)
    if answer.hits:
        result.best_score = round(float(max(h.score for h in answer.hits)), 4)
    if result.answered:
        top = answer.passages[0].hit
        result.article, result.title, result.url, result.score = top.article, top.title, top.url, round(float(top.score), 4)
    return result


def questions_of(engine: sa.Engine, exchange_ids: Iterable[str]) -> list[tuple[str, str]]:
    """(exchange id, question) of logged exchanges, newest first (ids not in the log are skipped)."""
    wanted = list(dict.fromkeys(exchange_ids))
    rows = []
    with engine.connect() as conn:
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            rows += conn.execute(sa.select(exchanges.c.id, exchanges.c.question, exchanges.c.ts).where(exchanges.c.id.in_(part))).fetchall()
    rows.sort(key=lambda r: (r[2], r[0]), reverse=True)
    return [(r[0], r[1]) for r in rows]
