"""PostGIS: a geometry column (SRID 4326) beside the WKB of sites and counties, with GiST indexes.

Revision ID: 0005
Revises: 0004

The column is generated from ``geom``, so every write of the shared SQL keeps it in
step, as the R*Tree triggers do on SQLite. Nothing changes on SQLite.
"""

import sqlalchemy as sa
from alembic import op

from geo.model import InvalidInput

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("sites", "counties")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    if not bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").first():
        try:
            with bind.begin_nested():
                bind.exec_driver_sql("CREATE EXTENSION postgis")
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0]
            raise InvalidInput(
                f"PostGIS is not enabled in this database and could not be created ({reason}): install "
                "postgresql-15-postgis-3 and run CREATE EXTENSION postgis; as a superuser in it",
                field="ONEMAP_DATABASE_URL") from None
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN shape geometry(Geometry, 4326)"
                   " GENERATED ALWAYS AS (ST_GeomFromWKB(geom, 4326)) STORED")
        op.execute(f"CREATE INDEX ix_{table}_shape ON {table} USING gist (shape)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN shape")  # its index goes with it
