"""The first conversation log: exchanges with their hits as JSON and their feedback.

This is the schema the Telegram bot first shipped with (then managed by a small
hand-written migration table, `_migrations`); databases from that time are
stamped with this revision and upgraded from here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("ts", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("chat_type", sa.Text),
        sa.Column("lang", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("refused", sa.Integer, nullable=False),
        sa.Column("hits", sa.Text, nullable=False),
        sa.Column("feedback", sa.Text),
        sa.Column("feedback_ts", sa.Text),
    )
