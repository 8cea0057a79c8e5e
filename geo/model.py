"""Domain values and errors shared by every part of OneMap.

Plain dataclasses, no behaviour beyond small conveniences: the rules live in
the modules named for them (layers, status, crs, geometry, access).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geo.messages import Message, msg

ROLES = ("planner", "worker", "manager", "admin")
# What people call each role, translated where it is shown (pages, and messages that name a role).
ROLE_NAMES = {
    "planner": msg("role_planner", "Planner"),
    "worker": msg("role_worker", "Grid worker"),
    "manager": msg("role_manager", "Manager"),
    "admin": msg("role_admin", "Administrator"),
}


# ---------------------------------------------------------------- errors
class OneMapError(Exception):
    """Base of every error OneMap reports to a user; `code` is machine-readable.

    ``message`` is a `geo.messages.Message` (translated at the edge) or, for text no reader needs
    in another language, a plain string; `self.message` is always the English text.
    """

    code = "error"

    def __init__(self, message: str | Message):
        super().__init__(str(message))
        self.text = message
        self.message = str(message)


class InvalidInput(OneMapError):
    """Input that breaks a rule; `field` names what is wrong (HTTP 422)."""

    code = "invalid"

    def __init__(self, message: str | Message, field: str | None = None, details: list | None = None):
        super().__init__(message)
        self.field = field
        self.details = details or []


class NotFound(OneMapError):
    code = "not_found"


class Conflict(OneMapError):
    """The request cannot be applied to what is stored now (HTTP 409); ``extra`` goes into the
    JSON answer (e.g. the current version of a site and what changed since the one edited)."""

    code = "conflict"

    def __init__(self, message: str | Message, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.extra = extra or {}


class StaleVersion(Conflict):
    """An edit based on a version of a site that is no longer the current one."""

    code = "stale_version"


class PermissionDenied(OneMapError):
    code = "forbidden"


class UnsupportedMedia(OneMapError):
    """An upload of a kind OneMap does not take (HTTP 415), judged by content, not by name."""

    code = "unsupported_media_type"


class TooLarge(OneMapError):
    """An upload over a configured limit (HTTP 413)."""

    code = "too_large"


class StorageUnavailable(OneMapError):
    """The photo storage cannot be used right now: endpoint down, bucket missing, access denied, disk full.

    Nothing was stored (HTTP 503); the same request may succeed later.
    """

    code = "storage_unavailable"


class StorageFull(StorageUnavailable):
    """The photo storage has no space left (HTTP 507): nothing was stored; the same request succeeds
    once space is freed, so a phone keeps the report and sends it again."""

    code = "storage_full"


class LayerDefinitionError(OneMapError):
    """A layer file that cannot be used: names the file, the field and the problem."""

    code = "layer_definition"

    def __init__(self, file: str, field: str, problem: str):
        super().__init__(f"{file}: {field}: {problem}")
        self.file, self.field, self.problem = file, field, problem


class UnreadableFile(OneMapError):
    """A data file that cannot be read at all (not one bad feature: the whole file)."""

    code = "unreadable_file"

    def __init__(self, file: str, reason: str | Message):
        super().__init__(msg("unreadable_file", "{file}: {reason}", file=file, reason=reason))
        self.file, self.reason = file, reason


# ---------------------------------------------------------------- layer definitions
Label = dict[str, str]  # {"zh_CN": ..., "en": ...}


@dataclass(frozen=True)
class StatusDef:
    code: str
    label: Label
    color: str


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    label: Label


@dataclass(frozen=True)
class Metric:
    id: str
    label: Label
    unit: str
    min: float
    max: float


@dataclass(frozen=True)
class AttributeDef:
    name: str
    type: str  # string | integer | number | boolean | date | list
    label: Label
    required: bool = False
    values: tuple[str, ...] | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    value_labels: dict[str, Label] | None = None  # {allowed value: its {"zh_CN", "en"} label}


@dataclass(frozen=True)
class Target:
    id: str
    label: Label
    value: float
    where: dict[str, Any]


@dataclass(frozen=True)
class Figure:
    """A figure an official source published for a metric (e.g. tonnes of garbage removed to date)."""

    metric: str
    value: float
    as_of: str
    source: str


@dataclass(frozen=True)
class LayerDef:
    id: str
    name: Label
    description: Label
    geometry_type: tuple[str, ...]  # Point | LineString | Polygon; Multi* of each also accepted
    status_mode: str  # "stages" (set on review) | "cadence" (derived from inspections)
    initial_status: str
    statuses: tuple[StatusDef, ...]
    attributes: tuple[AttributeDef, ...]
    checklist: tuple[ChecklistItem, ...]
    metrics: tuple[Metric, ...]
    cadence_days: int
    geofence_m: float
    targets: tuple[Target, ...] = ()
    figures: tuple[Figure, ...] = ()
    inspections: bool = True  # False for a layer of areas (grid cells) that takes no reports
    # Rules for sites drawn or reshaped on the map: "county" keeps each inside its county;
    # overlaps=False forbids a site to overlap another of the layer (sanitation zones).
    within: str | None = None
    overlaps: bool = True

    def status(self, code: str) -> StatusDef | None:
        return next((s for s in self.statuses if s.code == code), None)

    def attribute(self, name: str) -> AttributeDef | None:
        return next((a for a in self.attributes if a.name == name), None)


# ---------------------------------------------------------------- stored things
@dataclass
class Site:
    id: int | None
    layer_id: str
    name: str
    geometry: Any  # shapely geometry, WGS84 lon/lat
    status: str
    county: str | None = None
    ref: str | None = None  # the source's own key; makes loading idempotent
    attributes: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_report_id: int | None = None
    last_inspected_at: datetime | None = None
    last_result: str | None = None  # "pass" | "fail": the latest report that counts
    deleted_at: datetime | None = None  # deleted sites keep their reports and versions


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    display_name: str | None = None
    active: bool = True


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str | None
    action: str
    target: str
    detail: dict[str, Any]
