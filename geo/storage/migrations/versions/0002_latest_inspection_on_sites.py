"""Latest inspection on sites: what the map and the cadence status read.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = (
    ("last_report_id", sa.Integer()),
    ("last_inspected_at", sa.DateTime(timezone=True)),
    ("last_result", sa.String(length=8)),
)


def upgrade() -> None:
    # Plain ADD COLUMN on every backend: a batch copy of `sites` would drop the R*Tree triggers.
    for name, kind in COLUMNS:
        op.add_column("sites", sa.Column(name, kind, nullable=True))
    op.create_index("ix_sites_layer_inspected", "sites", ["layer_id", "last_inspected_at"])


def downgrade() -> None:
    op.drop_index("ix_sites_layer_inspected", "sites")
    with op.batch_alter_table("sites") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
