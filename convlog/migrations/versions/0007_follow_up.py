"""Whether an exchange was read as a follow-up of the conversation's previous question: the
`searched` column alone cannot say, since a question is also searched in another form when its
typos are mended, its traditional characters simplified or a greeting left out (NULL: logged
before this was recorded)."""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.add_column("exchanges", sa.Column("follow_up", sa.Boolean))  # ALTER TABLE ADD COLUMN: the FTS triggers stay
