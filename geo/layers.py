"""Load and validate layer definitions (data/layers/*.yaml) into LayerDef values.

A layer is data, not code: a new city or layer is a new YAML file. The schema is
a set of pydantic models, so every broken file gets an error naming the file,
the field (as a dotted path such as ``statuses.2.color``) and the problem.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geo.model import (
    AttributeDef,
    ChecklistItem,
    Figure,
    LayerDef,
    LayerDefinitionError,
    Metric,
    StatusDef,
    Target,
)

GEOMETRY_TYPES = ("Point", "LineString", "Polygon")
CADENCE_STATUSES = ("ok", "needs_attention", "overdue", "never_inspected")
# Properties every site may carry whatever its layer: where a position or shape
# came from, and whether it is approximate or only illustrative.
COMMON_ATTRIBUTES = (
    AttributeDef("approx", "boolean", {"zh_CN": "位置为近似", "en": "Approximate position"}),
    AttributeDef("approx_reason", "string", {"zh_CN": "近似原因", "en": "Why approximate"}),
    AttributeDef("illustrative", "boolean", {"zh_CN": "示意数据", "en": "Illustrative"}),
    AttributeDef("source", "string", {"zh_CN": "数据来源", "en": "Source"}),
)
# Properties a site's GeoJSON carries beside its attributes: an attribute of that name would hide one.
RESERVED = frozenset({"id", "layer", "name", "status", "status_label", "county", "ref", "version",
                      "updated_at", "last_inspected_at", "last_result", "report_count", "latest_report",
                      "geometry"})
_ID = r"^[a-z][a-z0-9_]*$"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Label(_Strict):
    zh_CN: str = Field(min_length=1)
    en: str = Field(min_length=1)


class _Status(_Strict):
    code: str = Field(pattern=_ID)
    label: _Label
    color: str

    @field_validator("color")
    @classmethod
    def _hex_colour(cls, value: str) -> str:
        if not _COLOR.match(value):
            raise ValueError(f"colour {value!r} is not a #rrggbb hex colour")
        return value


class _Item(_Strict):
    id: str = Field(pattern=_ID)
    label: _Label


class _Metric(_Item):
    unit: str
    min: float
    max: float

    @model_validator(mode="after")
    def _bounds(self):
        if self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        return self


class _Attribute(_Strict):
    name: str = Field(pattern=_ID)
    type: Literal["string", "integer", "number", "boolean", "date", "list"]
    label: _Label
    required: bool = False
    values: tuple[str, ...] | None = None
    value_labels: dict[str, _Label] | None = None  # what a page or a spreadsheet shows for each value
    unit: str | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _labels_of_values(self):
        if self.value_labels is not None:
            unknown = sorted(set(self.value_labels) - set(self.values or ()))
            if unknown:
                raise ValueError(f"value_labels: {', '.join(map(repr, unknown))} not among the values")
            missing = [v for v in self.values or () if v not in self.value_labels]
            if missing:
                raise ValueError(f"value_labels: no label for {', '.join(map(repr, missing))}")
        return self


class _StatusRule(_Strict):
    mode: Literal["stages", "cadence"]
    initial: str


class _Editing(_Strict):
    within: Literal["county"] | None = None
    overlaps: bool = True


class _Target(_Strict):
    id: str = Field(pattern=_ID)
    label: _Label
    value: float
    where: dict[str, Any]


class _Figure(_Strict):
    metric: str
    value: float
    as_of: str
    source: str


class _Layer(_Strict):
    id: str = Field(pattern=_ID)
    name: _Label
    description: _Label
    geometry_type: tuple[Literal["Point", "LineString", "Polygon"], ...] = Field(min_length=1)
    status: _StatusRule
    statuses: tuple[_Status, ...] = Field(min_length=1)
    attributes: tuple[_Attribute, ...] = ()
    inspections: bool = True  # False: a layer of areas, not of inspected sites (e.g. grid cells)
    checklist: tuple[_Item, ...] = ()
    metrics: tuple[_Metric, ...] = ()
    cadence_days: int = Field(gt=0)
    geofence_m: float = Field(gt=0)
    targets: tuple[_Target, ...] = ()
    figures: tuple[_Figure, ...] = ()
    editing: _Editing = _Editing()

    @field_validator("geometry_type", mode="before")
    @classmethod
    def _one_or_many(cls, value):
        return [value] if isinstance(value, str) else value


def _check_consistency(file: str, spec: _Layer) -> None:
    """Rules across fields, which pydantic's per-field validation cannot express."""
    if spec.inspections and not spec.checklist:
        raise LayerDefinitionError(file, "checklist", "required field is missing")
    for field, items, key in (
        ("statuses", spec.statuses, "code"),
        ("checklist", spec.checklist, "id"),
        ("metrics", spec.metrics, "id"),
        ("attributes", spec.attributes, "name"),
    ):
        seen: set[str] = set()
        for index, item in enumerate(items):
            value = getattr(item, key)
            if value in seen:
                raise LayerDefinitionError(file, f"{field}.{index}.{key}", f"duplicate {key} {value!r}")
            seen.add(value)
    codes = {s.code for s in spec.statuses}
    if spec.status.initial not in codes:
        problem = f"{spec.status.initial!r} is not one of the statuses"
        raise LayerDefinitionError(file, "status.initial", problem)
    if spec.status.mode == "cadence" and not set(CADENCE_STATUSES) <= codes:
        missing = ", ".join(sorted(set(CADENCE_STATUSES) - codes))
        raise LayerDefinitionError(file, "statuses", f"status mode cadence needs the statuses {missing}")
    metrics = {m.id for m in spec.metrics}
    for index, figure in enumerate(spec.figures):
        if figure.metric not in metrics:
            raise LayerDefinitionError(file, f"figures.{index}.metric", f"unknown metric {figure.metric!r}")
    for index, attribute in enumerate(spec.attributes):
        if attribute.name in RESERVED:
            problem = f"{attribute.name!r} is a property every site has; choose another name"
            raise LayerDefinitionError(file, f"attributes.{index}.name", problem)
    names = {a.name for a in spec.attributes} | {a.name for a in COMMON_ATTRIBUTES}
    for index, target in enumerate(spec.targets):
        for key in target.where:
            if key != "status" and key not in names:
                raise LayerDefinitionError(file, f"targets.{index}.where", f"unknown attribute {key!r}")


def _to_def(spec: _Layer) -> LayerDef:
    label = lambda lab: {"zh_CN": lab.zh_CN, "en": lab.en}  # noqa: E731
    return LayerDef(
        id=spec.id,
        name=label(spec.name),
        description=label(spec.description),
        geometry_type=tuple(spec.geometry_type),
        status_mode=spec.status.mode,
        initial_status=spec.status.initial,
        statuses=tuple(StatusDef(s.code, label(s.label), s.color) for s in spec.statuses),
        attributes=tuple(
            AttributeDef(a.name, a.type, label(a.label), a.required, a.values, a.unit, a.min, a.max,
                         {v: label(lab) for v, lab in a.value_labels.items()} if a.value_labels else None)
            for a in spec.attributes
        )
        + COMMON_ATTRIBUTES,
        checklist=tuple(ChecklistItem(c.id, label(c.label)) for c in spec.checklist),
        inspections=spec.inspections,
        metrics=tuple(Metric(m.id, label(m.label), m.unit, m.min, m.max) for m in spec.metrics),
        cadence_days=spec.cadence_days,
        geofence_m=spec.geofence_m,
        targets=tuple(Target(t.id, label(t.label), t.value, dict(t.where)) for t in spec.targets),
        figures=tuple(Figure(f.metric, f.value, f.as_of, f.source) for f in spec.figures),
        within=spec.editing.within,
        overlaps=spec.editing.overlaps,
    )


def _first_problem(file: str, error: ValidationError) -> LayerDefinitionError:
    detail = error.errors()[0]
    field = ".".join(str(part) for part in detail["loc"]) or "(file)"
    problem = detail["msg"].removeprefix("Value error, ")
    if detail["type"] == "missing":
        problem = "required field is missing"
    elif detail["type"] == "extra_forbidden":
        problem = "unknown field"
    elif detail["type"] == "literal_error" and "geometry_type" in field:
        problem = f"unknown geometry type {detail.get('input')!r} (use {', '.join(GEOMETRY_TYPES)})"
    return LayerDefinitionError(file, field, problem)


def load_layer(path: str | Path, text: str | None = None) -> LayerDef:
    """Parse and validate one layer file; raise LayerDefinitionError on the first problem."""
    path = Path(path)
    try:
        raw = yaml.safe_load(text if text is not None else path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LayerDefinitionError(path.name, "(file)", f"cannot be read as YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise LayerDefinitionError(path.name, "(file)", "must be a mapping of fields")
    try:
        spec = _Layer.model_validate(raw)
    except ValidationError as exc:
        raise _first_problem(path.name, exc) from None
    _check_consistency(path.name, spec)
    if spec.id != path.stem:
        raise LayerDefinitionError(path.name, "id", f"id {spec.id!r} must match the file name {path.stem!r}")
    return _to_def(spec)


def shipped_layers_dir() -> Path:
    return Path(str(resources.files("onemap_data") / "layers"))


def load_layers(directory: str | Path | None = None) -> dict[str, LayerDef]:
    """All layer files of a directory (default: the shipped ones), in file-name order."""
    directory = Path(directory) if directory else shipped_layers_dir()
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise LayerDefinitionError(str(directory), "(directory)", "holds no *.yaml layer files")
    return {layer.id: layer for layer in (load_layer(f) for f in files)}


# Attributes whose values are sentences of the shipped dataset, with a Chinese form (data/jinzhou/texts.yaml).
SENTENCE_ATTRIBUTES = frozenset({"approx_reason"})


def value_label(attribute: AttributeDef, value: Any) -> dict[str, str] | None:
    """The {"zh_CN", "en"} label of an attribute's value, for pages and spreadsheets; None: show the value.

    A value among the attribute's allowed values has the label the layer file gives it
    (``value_labels``); a dataset sentence (``approx_reason``) has its Chinese form.
    """
    if not isinstance(value, str):
        return None
    if attribute.value_labels:
        return attribute.value_labels.get(value)
    if attribute.name in SENTENCE_ATTRIBUTES:
        return _dataset_sentences().get(value)
    return None


@lru_cache(maxsize=1)
def _dataset_sentences() -> dict[str, dict[str, str]]:
    path = resources.files("onemap_data") / "jinzhou" / "texts.yaml"
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except FileNotFoundError:
        return {}
    return {entry["en"]: {"zh_CN": entry["zh_CN"], "en": entry["en"]} for entry in entries}
