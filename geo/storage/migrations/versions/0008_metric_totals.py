"""Running sums of report metrics per layer, kept by triggers on ``reports``.

Revision ID: 0008
Revises: 0007

The dashboard shows, per layer, the sum of each metric over the reports that count (not rejected).
Adding up every report's JSON on each load grew with the reports table (about 2 µs a report, so
2 s at a million). ``metric_totals`` holds the sums: a trigger adds a report's numeric metrics when
it is stored (unless stored rejected) and subtracts or adds them again when a review crosses
"rejected". Triggers, not the repository, because every way of writing a report (the filing path,
a bulk load, a restore's SQL) must keep them, as the R*Tree's triggers do for boxes. Metrics are
never changed after filing, and a site never changes layer, so these two events are all there is.
"""

import sqlalchemy as sa
from alembic import op

from geo.storage.triggers import POSTGRES_FUNCTION, SQLITE_ROWS, SQLITE_UPSERT

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table(
        "metric_totals",
        sa.Column("layer_id", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(64), primary_key=True),
        sa.Column("total", sa.Float, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute("CREATE TRIGGER reports_metric_totals AFTER INSERT OR UPDATE OF review_status ON reports"
                   " FOR EACH ROW EXECUTE FUNCTION onemap_metric_totals()")
        op.execute("""INSERT INTO metric_totals (layer_id, metric, total)
            SELECT s.layer_id, m.key, SUM((m.value::text)::float8)
            FROM reports r JOIN sites s ON s.id = r.site_id, json_each(r.metrics) m
            WHERE r.review_status != 'rejected' AND json_typeof(m.value) = 'number'
            GROUP BY s.layer_id, m.key""")
    else:
        op.execute(f"""CREATE TRIGGER reports_metric_totals_insert AFTER INSERT ON reports
            WHEN NEW.review_status != 'rejected'
            BEGIN {SQLITE_UPSERT.format(rows=SQLITE_ROWS.format(sign=1))} END""")
        for name, crossing, sign in (
                ("rejected", "OLD.review_status != 'rejected' AND NEW.review_status = 'rejected'", -1),
                ("unrejected", "OLD.review_status = 'rejected' AND NEW.review_status != 'rejected'", 1)):
            op.execute(f"""CREATE TRIGGER reports_metric_totals_{name}
                AFTER UPDATE OF review_status ON reports
                WHEN {crossing}
                BEGIN {SQLITE_UPSERT.format(rows=SQLITE_ROWS.format(sign=sign))} END""")
        op.execute("""INSERT INTO metric_totals (layer_id, metric, total)
            SELECT s.layer_id, m.key, SUM(m.value)
            FROM reports r JOIN sites s ON s.id = r.site_id, json_each(r.metrics) m
            WHERE r.review_status != 'rejected' AND m.type IN ('integer', 'real')
            GROUP BY s.layer_id, m.key""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER reports_metric_totals ON reports")
        op.execute("DROP FUNCTION onemap_metric_totals()")
    else:
        for name in ("insert", "rejected", "unrejected"):
            op.execute(f"DROP TRIGGER reports_metric_totals_{name}")
    op.drop_table("metric_totals")
