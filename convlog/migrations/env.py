"""Alembic environment: migrations run on the connection the conversation log hands over.

The target metadata is `convlog.schema`: autogenerate compares a database with it.
"""

from alembic import context

from convlog.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
