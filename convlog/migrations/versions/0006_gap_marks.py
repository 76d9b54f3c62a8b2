"""Content gaps an operator has dealt with: each unanswered exchange of a gap marked
handled (insights/gaps.py) is left out of the next gap report."""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "gap_marks",
        sa.Column("exchange_id", sa.Text, sa.ForeignKey("exchanges.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("handled_ts", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
    )
