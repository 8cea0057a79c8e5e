"""Alembic environment: runs on the connection OneMap hands over (see geo/storage/sql.py migrate)."""

from alembic import context

from geo.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through OneMap (`onemap init`), which passes the connection")


def include_object(obj, name, type_, reflected, compare_to):
    """Leave SQLite's R*Tree tables (made by migration 0001, unknown to schema.py) alone."""
    return not (type_ == "table" and name.startswith("sites_rtree"))


context.configure(
    connection=connection,
    include_object=include_object,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
