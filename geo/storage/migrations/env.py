"""Alembic environment: runs on the connection OneMap hands over (see geo/storage/sql.py migrate)."""

from alembic import context

from geo.storage.schema import backend_only, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through OneMap (`onemap init`), which passes the connection")


context.configure(
    connection=connection,
    include_object=backend_only,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
