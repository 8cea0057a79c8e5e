"""Display forms: each site's GeoJSON simplified for map zoom levels 8 and 11.

Revision ID: 0003
Revises: 0002
"""

import shapely
import sqlalchemy as sa
from alembic import op

from geo.geometry import display_forms

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LEVELS = (8, 11)
BATCH = 2000


def upgrade() -> None:
    for level in LEVELS:  # plain ADD COLUMN: a batch copy of `sites` would drop the R*Tree triggers
        op.add_column("sites", sa.Column(f"display_z{level}", sa.Text(), nullable=True))
    connection = op.get_bind()
    sites = sa.table("sites", sa.column("id"), sa.column("geom"),
                     *(sa.column(f"display_z{level}") for level in LEVELS))
    last = 0
    while rows := connection.execute(sa.select(sites.c.id, sites.c.geom).where(sites.c.id > last)
                                     .order_by(sites.c.id).limit(BATCH)).all():
        updates = []
        for site_id, wkb in rows:
            forms = display_forms(shapely.from_wkb(wkb))
            updates.append({"site_id": site_id, **{f"z{level}": forms[level] for level in LEVELS}})
        connection.execute(
            sites.update().where(sites.c.id == sa.bindparam("site_id"))
            .values({f"display_z{level}": sa.bindparam(f"z{level}") for level in LEVELS}), updates)
        last = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        for level in reversed(LEVELS):
            batch.drop_column(f"display_z{level}")
