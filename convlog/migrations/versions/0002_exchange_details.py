"""Everything an operator reviews: user, flags, latency, model and index version,
and the retrieved passages in their own table (moved out of the JSON column)."""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("exchanges") as batch:
        batch.add_column(sa.Column("user_id", sa.Text))
        batch.add_column(sa.Column("emergency", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("latency_ms", sa.Integer))
        batch.add_column(sa.Column("model", sa.Text))
        batch.add_column(sa.Column("index_version", sa.Text))
    hits = op.create_table(
        "hits",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("exchange_id", sa.Text, sa.ForeignKey("exchanges.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("chunk_id", sa.Text, nullable=False),
        sa.Column("article", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("shown", sa.Boolean, nullable=False),
    )
    op.create_index("hits_exchange", "hits", ["exchange_id"])
    op.create_index("hits_article", "hits", ["article"])

    # Move the JSON hits of older rows into the table; timestamps become "...Z".
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, ts, hits FROM exchanges")).fetchall()
    for exchange_id, ts, blob in rows:
        data = json.loads(blob or "{}")
        shown = set(data.get("shown", []))
        items = [
            {
                "exchange_id": exchange_id,
                "rank": rank,
                "chunk_id": h["chunk_id"],
                "article": h.get("article", ""),
                "title": h.get("title"),
                "score": float(h.get("score", 0.0)),
                "shown": h["chunk_id"] in shown,
            }
            for rank, h in enumerate(data.get("hits", []), 1)
        ]
        if items:
            conn.execute(hits.insert(), items)
        if ts.endswith("+00:00"):
            conn.execute(sa.text("UPDATE exchanges SET ts = :ts WHERE id = :id"), {"ts": ts[:-6] + "Z", "id": exchange_id})
    with op.batch_alter_table("exchanges") as batch:
        batch.drop_column("hits")
        batch.alter_column("refused", type_=sa.Boolean, existing_type=sa.Integer, existing_nullable=False,
                           postgresql_using="refused::boolean")
    op.create_index("exchanges_ts", "exchanges", ["ts"])
    op.create_index("exchanges_user", "exchanges", ["user_id"])
    op.execute("DROP TABLE IF EXISTS _migrations")
