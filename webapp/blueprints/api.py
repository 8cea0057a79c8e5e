"""JSON API under /api/v1 for the pages, scripts and other systems."""

from dataclasses import asdict

from flask import Blueprint, Response, request
from flask_login import current_user

from geo import queries
from geo.counties import counties_of
from geo.crs import from_wgs84
from geo.io.geojson import dumps, feature, iter_feature_collection
from webapp import params
from webapp.context import get_uow, layer_or_404, layers, now

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
    display_crs = params.choice(request.args.get("crs"), "crs", ("gcj02",))
    with get_uow() as uow:
        rows = list(counties_of(uow).by_code.values())
    shown = (from_wgs84(c["geometry"], display_crs) if display_crs else c["geometry"] for c in rows)
    features = (
        feature(c["code"], geometry, {"code": c["code"], "name": c["name"], "name_en": c["name_en"]})
        for c, geometry in zip(rows, shown, strict=True)
    )
    return Response(iter_feature_collection(features), mimetype="application/geo+json")


def view_query(layer) -> queries.ViewQuery:
    args = request.args
    return queries.ViewQuery(
        bbox=params.bbox(args.get("bbox")),
        zoom=params.integer(args.get("zoom"), "zoom", 0, 24),
        status=params.codes(args.get("status"), "status", {s.code for s in layer.statuses}),
        county=args.get("county") or None,
        q=(args.get("q") or "").strip() or None,
        display_crs=params.choice(args.get("crs"), "crs", ("gcj02",)),
        as_of=params.as_of(args.get("as_of"), now()),
    )


@bp.get("/layers/<layer_id>/features")
def layer_features(layer_id: str):
    layer = layer_or_404(layer_id)
    query = view_query(layer)
    with get_uow() as uow:
        body = queries.features_in_view(layer, query, uow=uow, user=current_user.user, now=now())
    return Response(body, mimetype="application/geo+json")


@bp.get("/sites/<int:site_id>")
def site(site_id: int):
    with get_uow() as uow:
        detail = queries.site_detail(site_id, layers(), uow=uow, user=current_user.user, now=now())
    return Response(dumps(queries.site_feature(detail)), mimetype="application/geo+json")
