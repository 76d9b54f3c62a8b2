"""Full-text search over questions and replies that works for Chinese.

SQLite: an FTS5 index with the trigram tokenizer (any 3+ character substring),
kept in step by triggers. PostgreSQL: pg_trgm GIN indexes serving ILIKE.
"""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX exchanges_question_trgm ON exchanges USING gin (question gin_trgm_ops)")
        op.execute("CREATE INDEX exchanges_reply_trgm ON exchanges USING gin (reply gin_trgm_ops)")
        return
    op.execute(
        "CREATE VIRTUAL TABLE exchanges_fts USING fts5("
        "question, reply, content='exchanges', content_rowid='rowid', tokenize='trigram')"
    )
    op.execute(
        "CREATE TRIGGER exchanges_fts_insert AFTER INSERT ON exchanges BEGIN "
        "INSERT INTO exchanges_fts(rowid, question, reply) VALUES (new.rowid, new.question, new.reply); END"
    )
    op.execute(
        "CREATE TRIGGER exchanges_fts_delete AFTER DELETE ON exchanges BEGIN "
        "INSERT INTO exchanges_fts(exchanges_fts, rowid, question, reply) VALUES ('delete', old.rowid, old.question, old.reply); END"
    )
    op.execute(
        "CREATE TRIGGER exchanges_fts_update AFTER UPDATE OF question, reply ON exchanges BEGIN "
        "INSERT INTO exchanges_fts(exchanges_fts, rowid, question, reply) VALUES ('delete', old.rowid, old.question, old.reply); "
        "INSERT INTO exchanges_fts(rowid, question, reply) VALUES (new.rowid, new.question, new.reply); END"
    )
    op.execute("INSERT INTO exchanges_fts(exchanges_fts) VALUES ('rebuild')")
