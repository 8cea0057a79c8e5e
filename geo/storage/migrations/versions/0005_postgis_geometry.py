"""PostGIS: a geometry column (SRID 4326) beside the WKB of sites and counties, with GiST indexes.

Revision ID: 0005
Revises: 0004

The column is generated from ``geom``, so every write of the shared SQL keeps it in
step, as the R*Tree triggers do on SQLite. Nothing changes on SQLite.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("sites", "counties")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # A no-op where the administrator has created the extension already (it needs a superuser).
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN shape geometry(Geometry, 4326)"
                   " GENERATED ALWAYS AS (ST_GeomFromWKB(geom, 4326)) STORED")
        op.execute(f"CREATE INDEX ix_{table}_shape ON {table} USING gist (shape)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN shape")  # its index goes with it
