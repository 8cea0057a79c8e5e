"""Site version history, soft deletion, and the site version each report was filed against.

Revision ID: 0006
Revises: 0005

Every stored site gets its current state as its first recorded version (action
``initial``): history starts here, and an ``as_of`` view earlier than this migration
shows the sites as they are now.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COPIED = ("layer_id", "ref", "name", "county", "status", "geom", "minx", "miny", "maxx", "maxy", "attributes")


def upgrade() -> None:
    op.create_table(
        "site_versions",
        sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("layer_id", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(200)),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("county", sa.String(12)),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("geom", sa.LargeBinary, nullable=False),
        sa.Column("minx", sa.Float, nullable=False),
        sa.Column("miny", sa.Float, nullable=False),
        sa.Column("maxx", sa.Float, nullable=False),
        sa.Column("maxy", sa.Float, nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("detail", sa.JSON),
    )
    op.create_index("ix_site_versions_layer_at", "site_versions", ["layer_id", "at"])
    # Plain ADD COLUMN: a batch copy of `sites` would drop the R*Tree triggers.
    op.add_column("sites", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("reports", sa.Column("site_version", sa.Integer, nullable=True))
    sites = sa.table("sites", *(sa.column(c) for c in ("id", "version", "updated_at", *COPIED)))
    versions = sa.table(
        "site_versions", *(sa.column(c) for c in ("site_id", "version", "action", "at", *COPIED))
    )
    op.get_bind().execute(
        versions.insert().from_select(
            ["site_id", "version", "action", "at", *COPIED],
            sa.select(
                sites.c.id,
                sites.c.version,
                sa.literal("initial"),
                sites.c.updated_at,
                *(sites.c[c] for c in COPIED),
            ),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("site_version")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("deleted_at")
    op.drop_index("ix_site_versions_layer_at", "site_versions")
    op.drop_table("site_versions")
