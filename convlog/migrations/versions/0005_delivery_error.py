"""Why a reply could not be delivered: an exchange is logged even when Telegram refused or
rate-limited the reply past its retries (NULL: delivered)."""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.add_column("exchanges", sa.Column("delivery_error", sa.Text))  # ALTER TABLE ADD COLUMN: the FTS triggers stay
