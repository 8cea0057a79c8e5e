"""Tables, declared once with SQLAlchemy Core for every backend.

Geometries are stored as WKB with their bounding box in plain columns: the
embedded SQLite store indexes the box with an R*Tree (see sqlite.py and the
first migration), shapely does the exact predicates. Migrations create these
tables; this module is what the queries are written against.
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData()


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: OneMap stores aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def backend_only(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's ``include_object``: False for what a backend adds beside these tables —
    SQLite's R*Tree tables, PostGIS's generated ``shape`` columns and their GiST indexes
    (migrations 0001 and 0005), the attribute indexes of one backend (``_sqlite``, ``_gin``:
    migration 0007) — so comparisons with this module leave them alone."""
    if type_ == "table":
        return not (name.startswith("sites_rtree") or name == "spatial_ref_sys")
    if type_ == "column":
        return name != "shape"
    if type_ == "index":
        return not (name or "").endswith(("_shape", "_sqlite", "_gin"))
    return True


layers = sa.Table(
    "layers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

counties = sa.Table(
    "counties",
    metadata,
    sa.Column("code", sa.String(12), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("name_en", sa.String(100)),
    sa.Column("geom", sa.LargeBinary, nullable=False),
)

sites = sa.Table(
    "sites",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("layer_id", sa.String(64), sa.ForeignKey("layers.id"), nullable=False),
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
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The latest report that counts (not rejected), kept here so the map and the
    # cadence status never have to scan the reports table.
    sa.Column("last_report_id", sa.Integer),
    sa.Column("last_inspected_at", UtcDateTime),
    sa.Column("last_result", sa.String(8)),  # "pass" | "fail"
    sa.Column("last_review", sa.String(20)),  # that report's review: "pending" | "approved"
    # GeoJSON text of the geometry simplified for map zoom levels (geo.geometry.DISPLAY_LEVELS),
    # made once when the site is written so a map request only copies text.
    sa.Column("display_z8", sa.Text),
    sa.Column("display_z11", sa.Text),
    # A deleted site stays, with its reports and versions; every listing leaves it out.
    sa.Column("deleted_at", UtcDateTime),
    sa.UniqueConstraint("layer_id", "ref", name="uq_sites_layer_ref"),
    sa.Index("ix_sites_layer_status", "layer_id", "status"),
    sa.Index("ix_sites_layer_inspected", "layer_id", "last_inspected_at"),
    sa.Index("ix_sites_county", "county"),
    # The dashboard's counts and overdue list read only this index (geo/storage/views/dashboard.py).
    sa.Index("ix_sites_layer_live", "layer_id", "deleted_at", "last_inspected_at", "last_result", "county",
             "status", "id"),
)

# Every version of every site, the current one included: written with each change (drawn,
# edited, imported, restored, deleted, a stage status set on review), never rewritten.
site_versions = sa.Table(
    "site_versions",
    metadata,
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
    sa.Column("action", sa.String(20), nullable=False),  # create | edit | import | load | status | …
    sa.Column("actor", sa.String(100)),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("detail", sa.JSON),  # e.g. {"split_from": 12} or {"merged": [12, 13]}
    sa.Index("ix_site_versions_layer_at", "layer_id", "at"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(100), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("display_name", sa.String(200)),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("role IN ('planner', 'worker', 'manager', 'admin')", name="ck_users_role"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    # sha256 of the token: tokens are long random strings, so a fast digest is enough
    # and lets a request find its token by an indexed look-up.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
)

assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("assigned_at", UtcDateTime, nullable=False),
    sa.Index("ix_assignments_site", "site_id"),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("checklist", sa.JSON, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("gps_lat", sa.Float),
    sa.Column("gps_lon", sa.Float),
    sa.Column("gps_accuracy", sa.Float),
    sa.Column("distance_m", sa.Float),
    sa.Column("flags", sa.JSON, nullable=False),
    sa.Column("observed_at", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("review_status", sa.String(20), nullable=False, server_default="pending"),
    sa.Column("reviewed_by", sa.Integer, sa.ForeignKey("users.id")),
    sa.Column("reviewed_at", UtcDateTime),
    sa.Column("review_comment", sa.Text),
    sa.Column("site_version", sa.Integer),  # the version of the site it was filed against
    sa.Index("ix_reports_site_observed", "site_id", "observed_at"),
)

# Running sums of each layer's report metrics over the reports that count (not rejected), kept by
# triggers on ``reports`` (migration 0008), so every way a report is written keeps them and the
# dashboard reads a few rows instead of every report's JSON.
metric_totals = sa.Table(
    "metric_totals",
    metadata,
    sa.Column("layer_id", sa.String(64), primary_key=True),
    sa.Column("metric", sa.String(64), primary_key=True),
    sa.Column("total", sa.Float, nullable=False),
)

photos = sa.Table(
    "photos",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("report_id", sa.Integer, sa.ForeignKey("reports.id", ondelete="CASCADE"), nullable=False),
    sa.Column("original_key", sa.String(300), nullable=False),
    sa.Column("display_key", sa.String(300), nullable=False),
    sa.Column("thumbnail_key", sa.String(300), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("taken_at", UtcDateTime),
    sa.Column("exif_lat", sa.Float),
    sa.Column("exif_lon", sa.Float),
    sa.Column("flags", sa.JSON, nullable=False),
    sa.Index("ix_photos_report", "report_id"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(100)),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Index("ix_audit_target", "target"),
)
