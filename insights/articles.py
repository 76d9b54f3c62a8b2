"""The article report: every indexed article with how often answers quoted it and the
👍 / 👎 those answers got, the articles never quoted, and articles the log cites that
are no longer in the index.

"Quoted" counts exchanges, not hits: an answer quoting two passages of one article
counts once for it. One grouped query over the log, whatever its size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from convlog.review import Filters, _where
from convlog.schema import exchanges, hits


@dataclass
class ArticleRow:
    path: str
    title: str | None
    url: str | None = None
    chunks: int | None = None  # passages in the index (None: not in the index)
    quoted: int = 0  # exchanges that quoted it
    up: int = 0  # of those, rated 👍
    down: int = 0  # rated 👎
    last_quoted: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ArticleReport:
    articles: list[ArticleRow]  # every indexed article, most quoted first
    never_quoted: list[ArticleRow]  # indexed articles no answer quoted (by path)
    not_indexed: list[ArticleRow] = field(default_factory=list)  # quoted in the log, no longer in the index
    exchanges: int = 0  # exchanges that quoted an article (within the filters)

    def to_dict(self) -> dict:
        return {"articles": [a.to_dict() for a in self.articles], "never_quoted": [a.to_dict() for a in self.never_quoted],
                "not_indexed": [a.to_dict() for a in self.not_indexed], "exchanges": self.exchanges}  # fmt: skip


def quoted_counts(engine: sa.Engine, filters: Filters | None = None) -> dict[str, ArticleRow]:
    """Per article the log cites: exchanges that quoted it, their 👍 / 👎, the latest one."""
    where = _where(engine, filters or Filters())
    # one row per (exchange, article) quoted, then grouped per article
    pairs = (
        sa.select(hits.c.exchange_id, hits.c.article, sa.func.max(hits.c.title).label("title"))
        .where(hits.c.shown.is_(True))
        .group_by(hits.c.exchange_id, hits.c.article)
        .subquery()
    )
    query = (
        sa.select(
            pairs.c.article,
            sa.func.max(pairs.c.title),
            sa.func.count(),
            sa.func.sum(sa.case((exchanges.c.feedback == "up", 1), else_=0)),
            sa.func.sum(sa.case((exchanges.c.feedback == "down", 1), else_=0)),
            sa.func.max(exchanges.c.ts),
        )
        .select_from(pairs.join(exchanges, exchanges.c.id == pairs.c.exchange_id))
        .where(where)
        .group_by(pairs.c.article)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).fetchall()
    return {
        path: ArticleRow(path, title, quoted=int(n), up=int(up or 0), down=int(down or 0), last_quoted=last)
        for path, title, n, up, down, last in rows
    }


def _quoting_exchanges(engine: sa.Engine, filters: Filters | None) -> int:
    quoted = sa.select(hits.c.exchange_id).where(hits.c.shown.is_(True))
    query = sa.select(sa.func.count()).select_from(exchanges).where(_where(engine, filters or Filters()), exchanges.c.id.in_(quoted))
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def article_report(engine: sa.Engine, articles: Iterable[Mapping], filters: Filters | None = None) -> ArticleReport:
    """`articles`: the indexed articles as mappings with path, title, url and chunks
    (`ChunkStore.article_rows()`)."""
    counts = quoted_counts(engine, filters)
    rows = []
    for item in articles:
        seen = counts.pop(item["path"], None)
        row = ArticleRow(item["path"], item.get("title"), item.get("url"), item.get("chunks"))
        if seen is not None:
            row.quoted, row.up, row.down, row.last_quoted = seen.quoted, seen.up, seen.down, seen.last_quoted
        rows.append(row)
    rows.sort(key=lambda r: r.path)
    rows.sort(key=lambda r: r.quoted, reverse=True)
    not_indexed = sorted(counts.values(), key=lambda r: r.path)
    not_indexed.sort(key=lambda r: r.quoted, reverse=True)
    never = sorted((r for r in rows if r.quoted == 0), key=lambda r: r.path)
    return ArticleReport(rows, never, not_indexed, _quoting_exchanges(engine, filters))
