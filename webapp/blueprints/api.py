"""JSON API under /api/v1 for the pages, scripts and other systems."""

from dataclasses import asdict

from flask import Blueprint, Response

from geo.io.geojson import feature, iter_feature_collection
from webapp.context import get_uow, layers

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _layer_json(layer) -> dict:
    return {
        "id": layer.id,
        "name": layer.name,
        "description": layer.description,
        "geometry_type": list(layer.geometry_type),
        "status_mode": layer.status_mode,
        "statuses": [{"code": s.code, "label": s.label, "color": s.color} for s in layer.statuses],
        "attributes": [
            {k: v for k, v in asdict(a).items() if v is not None} for a in layer.attributes
        ],
        "checklist": [{"id": c.id, "label": c.label} for c in layer.checklist],
        "metrics": [
            {"id": m.id, "label": m.label, "unit": m.unit, "min": m.min, "max": m.max} for m in layer.metrics
        ],
        "cadence_days": layer.cadence_days,
        "geofence_m": layer.geofence_m,
        "targets": [asdict(target) for target in layer.targets],
    }


@bp.get("/layers")
def layer_definitions():
    return {"layers": [_layer_json(layer) for layer in layers().values()]}


@bp.get("/counties")
def counties():
    with get_uow() as uow:
        rows = uow.counties.all()
    features = (
        feature(c["code"], c["geometry"], {"code": c["code"], "name": c["name"], "name_en": c["name_en"]})
        for c in rows
    )
    return Response(iter_feature_collection(features), mimetype="application/geo+json")
