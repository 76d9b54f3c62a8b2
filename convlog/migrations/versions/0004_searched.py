"""The question as searched, beside the message: a follow-up is searched together with
the conversation's previous question (retrieval/followup.py)."""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.add_column("exchanges", sa.Column("searched", sa.Text))  # ALTER TABLE ADD COLUMN: the FTS triggers stay
