"""Indexes for the dashboard, which counts every live site of a layer in SQL.

Revision ID: 0007
Revises: 0006

``ix_sites_layer_live`` holds what the counts by county and status and the overdue list read, so
neither backend reads the wide site rows (geometry and display forms) for them. A layer's targets
test attributes: on SQLite ``ix_sites_attributes_sqlite`` carries them beside the status columns (the
targets are counted from the index alone); on PostgreSQL, whose ``json`` has no btree operators,
``ix_sites_attributes_gin`` indexes them as jsonb for containment, which finds a target's candidates.
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


LIVE = ["layer_id", "deleted_at", "last_inspected_at", "last_result", "county", "status", "id"]
ATTRIBUTES = ["layer_id", "deleted_at", "status", "last_result", "last_inspected_at", "attributes"]


def upgrade() -> None:
    op.create_index("ix_sites_layer_live", "sites", LIVE)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_sites_attributes_gin ON sites"
                   " USING gin ((attributes::jsonb) jsonb_path_ops)")
    else:
        op.create_index("ix_sites_attributes_sqlite", "sites", ATTRIBUTES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_sites_attributes_gin", table_name="sites")
    else:
        op.drop_index("ix_sites_attributes_sqlite", table_name="sites")
    op.drop_index("ix_sites_layer_live", table_name="sites")
