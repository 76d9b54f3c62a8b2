"""The conversation log's tables: the one definition the code queries and the migrations must produce.

The Alembic migrations in ``migrations/versions`` are the history that brings a
database to this shape (a migration that has shipped is never edited); their
``env.py`` names this metadata as its target, so ``alembic revision --autogenerate``
starts a new migration from a change made here, and tests/test_convlog.py checks
that a database migrated to the head revision has exactly these tables, columns,
keys and indexes. The full-text search structures (an FTS5 table and triggers in
SQLite, pg_trgm indexes in PostgreSQL) are dialect-specific and live only in
migration 0003.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

exchanges = sa.Table(
    "exchanges",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("ts", sa.Text, nullable=False),  # common.clock.utc_stamp: sortable UTC text
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("user_id", sa.Text),  # a pseudonym unless the operator opted in to raw ids
    sa.Column("chat_type", sa.Text),
    sa.Column("lang", sa.Text, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("searched", sa.Text),  # the question as searched when it was not the message as sent (a follow-up, typos mended)
    sa.Column("follow_up", sa.Boolean),  # read with the conversation's previous question (NULL: logged before this was recorded)
    sa.Column("reply", sa.Text, nullable=False),
    sa.Column("refused", sa.Boolean, nullable=False),
    sa.Column("emergency", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("latency_ms", sa.Integer),
    sa.Column("model", sa.Text),
    sa.Column("index_version", sa.Text),
    sa.Column("feedback", sa.Text),
    sa.Column("feedback_ts", sa.Text),
    sa.Column("delivery_error", sa.Text),  # why the reply could not be delivered (NULL: it was)
    sa.Index("exchanges_ts", "ts"),
    sa.Index("exchanges_user", "user_id"),
)

hits = sa.Table(
    "hits",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("exchange_id", sa.Text, sa.ForeignKey("exchanges.id", ondelete="CASCADE"), nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("chunk_id", sa.Text, nullable=False),
    sa.Column("article", sa.Text, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("shown", sa.Boolean, nullable=False),
    sa.Index("hits_exchange", "exchange_id"),
    sa.Index("hits_article", "article"),
)

gap_marks = sa.Table(
    "gap_marks",
    metadata,
    # an unanswered exchange whose content gap an operator marked handled (insights/gaps.py)
    sa.Column("exchange_id", sa.Text, sa.ForeignKey("exchanges.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("handled_ts", sa.Text, nullable=False),  # common.clock.utc_stamp
    sa.Column("note", sa.Text),
)
