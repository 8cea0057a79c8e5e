"""Whether a site's latest report still awaits review: the map marks such sites.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: a batch copy of `sites` would drop the R*Tree triggers.
    op.add_column("sites", sa.Column("last_review", sa.String(length=20), nullable=True))
    sites = sa.table("sites", sa.column("last_report_id"), sa.column("last_review"))
    reports = sa.table("reports", sa.column("id"), sa.column("review_status"))
    op.get_bind().execute(sites.update().where(sites.c.last_report_id.is_not(None)).values(
        last_review=sa.select(reports.c.review_status).where(reports.c.id == sites.c.last_report_id)
        .scalar_subquery()))


def downgrade() -> None:
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("last_review")
