"""OGC API – Features, Part 1 (core, GeoJSON, HTML, OpenAPI 3.0) under /ogc, so GIS clients read every layer.

One collection per layer, grid cells included: planners and managers see the
cells on the map already, and a GIS user needs them to relate sites to the
workers responsible. Thin: parse the query, call geo.collections, add links,
serialise as JSON (default, or ``?f=json``) or HTML (``?f=html`` or a browser's
``Accept: text/html``). Workers get 403: this is an interface for planning.
"""

from __future__ import annotations

import re
from datetime import UTC
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user

from geo import collections, times
from geo.access import READ_ALL
from geo.io.geojson import dumps, iter_feature_collection
from geo.messages import msg
from geo.model import LayerDef, NotFound
from webapp import params
from webapp.context import county_names, get_uow, layers, now, zone
from webapp.i18n import LANGUAGES, _, label

bp = Blueprint("ogc", __name__, url_prefix="/ogc")

CONF = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
CONFORMANCE = [CONF + name for name in ("core", "geojson", "oas30", "html")]
JSON, GEOJSON, HTML = "application/json", "application/geo+json", "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
COMMON_PARAMS = ("f", "lang")
ITEMS_PARAMS = ("bbox", "datetime", "limit", "offset", "status", "county")
_WHOLE = re.compile(r"[+-]?\d+")


@bp.before_request
def _planning_roles_only():
    if current_user.role not in READ_ALL:
        abort(403, _("OGC API access is for planners, managers and admins"))


# ------------------------------------------------------------------ request helpers
def _wants_html(*allowed: str) -> bool:
    """Refuse unknown query parameters, then pick the format: ``f`` first, then the Accept header."""
    known = COMMON_PARAMS + allowed
    unknown = sorted(set(request.args) - set(known))
    if unknown:
        raise params.BadParameter(unknown[0], msg("unknown_parameter", "not a parameter here (use {allowed})",
                                                  allowed=", ".join(known)))
    chosen = params.choice(request.args.get("f"), "f", ("json", "html"))
    if chosen:
        return chosen == "html"
    return request.accept_mimetypes.best_match((JSON, GEOJSON, HTML)) == HTML


def _layer(layer_id: str) -> LayerDef:
    if layer_id not in layers():
        raise NotFound(msg("no_collection", "no collection {collection} (collections: {collections})",
                           collection=repr(layer_id), collections=", ".join(layers())))
    return layers()[layer_id]


def _count(name: str, minimum: int) -> int | None:
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if not _WHOLE.fullmatch(value):
        raise params.BadParameter(name, msg("not_whole_number", "{value} is not a whole number",
                                            value=repr(value)))
    if int(value) < minimum:
        raise params.BadParameter(name, msg("at_least", "must be at least {minimum}", minimum=minimum))
    return int(value)


def _item_query(layer: LayerDef) -> collections.ItemQuery:
    args = request.args
    inspected = None
    if args.get("datetime"):
        try:
            inspected = times.parse_datetime(args["datetime"], zone())
        except ValueError as exc:
            raise params.BadParameter("datetime", params.problem_of(exc)) from None
    limit = _count("limit", 1) or collections.DEFAULT_LIMIT
    return collections.ItemQuery(
        bbox=params.bbox(args.get("bbox")),
        inspected=inspected,
        status=params.codes(args.get("status"), "status", {s.code for s in layer.statuses}),
        county=args.get("county") or None,
        offset=_count("offset", 0) or 0,
        limit=min(limit, collections.MAX_LIMIT),  # OGC lets a server clamp: no 400 for a big page
    )


def _here(**changes) -> str:
    """This request's absolute URL with some query parameters changed (None removes one)."""
    args = request.args.to_dict() | changes
    query = urlencode({k: v for k, v in args.items() if v is not None})
    return request.base_url + (f"?{query}" if query else "")


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict:
    return {"href": href, "rel": rel, "type": type_, **({"title": title} if title else {})}


def _self_links(json_type: str = JSON) -> list[dict]:
    return [_link(_here(f="json"), "self", json_type, "JSON"),
            _link(_here(f="html"), "alternate", HTML, "HTML")]


def _json(document: dict, mimetype: str = JSON) -> Response:
    return Response(dumps(document), mimetype=mimetype)


def _timestamp() -> str:
    return now().astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _collection(layer: LayerDef, extent: dict, *, here: bool = False) -> dict:
    own = url_for("ogc.collection", layer_id=layer.id, _external=True)
    items = url_for("ogc.items", layer_id=layer.id, _external=True)
    links = _self_links() if here else [_link(own, "self", JSON, label(layer.name))]
    links += [_link(items, "items", GEOJSON, _("Items")),
              _link(f"{items}?f=html", "items", HTML, _("Items"))]
    return {"id": layer.id, "title": label(layer.name), "description": label(layer.description),
            "links": links, "extent": extent, "itemType": "feature", "crs": [collections.CRS84]}


# ------------------------------------------------------------------ routes
@bp.get("/")
def landing():
    html = _wants_html()
    api = url_for("ogc.api", _external=True)
    document = {"title": _("OneMap OGC API – Features"), "description": _("Every layer's sites as a standard "
                                                                          "feature service for QGIS, ArcGIS "
                                                                          "and GDAL."), "links": [
        *_self_links(),
        _link(api, "service-desc", OPENAPI, "OpenAPI 3.0"),
        _link(f"{api}?f=html", "service-doc", HTML, _("API description (OpenAPI)")),
        _link(url_for("ogc.conformance", _external=True), "conformance", JSON, _("Conformance classes")),
        _link(url_for("ogc.collection_list", _external=True), "data", JSON, _("Collections (layers)")),
    ]}
    if html:
        return render_template("ogc/landing.html", doc=document, layers=layers().values())
    return _json(document)


@bp.get("/conformance")
def conformance():
    html = _wants_html()
    document = {"conformsTo": CONFORMANCE}
    if html:
        return render_template("ogc/conformance.html", doc=document)
    return _json(document)


@bp.get("/api")
def api():
    html = _wants_html()
    document = openapi_document(list(layers().values()))
    if html:
        return render_template("ogc/api.html", doc=document)
    return _json(document, OPENAPI)


@bp.get("/collections")
def collection_list():
    html = _wants_html()
    with get_uow() as uow:
        extents = {layer.id: collections.extent(layer, uow=uow) for layer in layers().values()}
    document = {"links": _self_links(),
                "collections": [_collection(layer, extents[layer.id]) for layer in layers().values()]}
    if html:
        return render_template("ogc/collections.html", doc=document)
    return _json(document)


@bp.get("/collections/<layer_id>")
def collection(layer_id: str):
    layer = _layer(layer_id)
    html = _wants_html()
    with get_uow() as uow:
        document = _collection(layer, collections.extent(layer, uow=uow), here=True)
    if html:
        return render_template("ogc/collection.html", doc=document, layer=layer)
    return _json(document)


@bp.get("/collections/<layer_id>/items")
def items(layer_id: str):
    layer = _layer(layer_id)
    html = _wants_html(*ITEMS_PARAMS)
    query = _item_query(layer)
    with get_uow() as uow:
        page = collections.item_page(layer, query, uow=uow, now=now())
    links = _self_links(GEOJSON)
    if query.offset > 0:
        links.append(_link(_here(offset=max(0, query.offset - query.limit), limit=query.limit), "prev",
                           HTML if html else GEOJSON))
    if query.offset + len(page.features) < page.matched:
        links.append(_link(_here(offset=query.offset + len(page.features), limit=query.limit), "next",
                           HTML if html else GEOJSON))
    links.append(_link(url_for("ogc.collection", layer_id=layer.id, _external=True), "collection", JSON,
                       label(layer.name)))
    members = {"numberMatched": page.matched, "numberReturned": len(page.features), "timeStamp": _timestamp(),
               "links": links}
    if html:
        return render_template("ogc/items.html", layer=layer, features=page.features, query=query,
                               counties=county_names(), **members)
    return Response(iter_feature_collection(page.features, extra_members=members), mimetype=GEOJSON)


@bp.get("/collections/<layer_id>/items/<item_id>")
def item(layer_id: str, item_id: str):
    layer = _layer(layer_id)
    html = _wants_html()
    with get_uow() as uow:
        feature = collections.item(layer, item_id, uow=uow, now=now())
    feature["links"] = [*_self_links(GEOJSON), _link(
        url_for("ogc.collection", layer_id=layer.id, _external=True), "collection", JSON, label(layer.name))]
    if html:
        return render_template("ogc/item.html", layer=layer, feature=feature)
    return _json(feature, GEOJSON)


# ------------------------------------------------------------------ the OpenAPI document
_ATTRIBUTE_SCHEMA = {"string": {"type": "string"}, "integer": {"type": "integer"},
                     "number": {"type": "number"}, "boolean": {"type": "boolean"},
                     "date": {"type": "string", "format": "date"},
                     "list": {"type": "array", "items": {"type": "string"}}}


def _ref(kind: str, name: str) -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _content(schema: dict, mimetype: str = JSON) -> dict:
    """A 200 answer: the JSON form described by ``schema``, or the HTML page."""
    return {"content": {mimetype: {"schema": schema}, HTML: {"schema": {"type": "string"}}}}


def _operation(summary: str, operation_id: str, ok: dict, parameters: list | None = None,
               not_found: bool = False) -> dict:
    responses = {"200": {"description": summary, **ok}, "400": _ref("responses", "BadRequest"),
                 "401": _ref("responses", "Unauthorized"), "403": _ref("responses", "Forbidden")}
    if not_found:
        responses["404"] = _ref("responses", "NotFound")
    return {"get": {"summary": summary, "operationId": operation_id,
                    "parameters": [*(parameters or []), _ref("parameters", "f"), _ref("parameters", "lang")],
                    "responses": responses}}


def _query(name: str, schema: dict, description: str, **extra) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description,
            **extra}


def _item_parameters(layer: LayerDef) -> list[dict]:
    # Written out per path, not by $ref: GDAL reads the limit's maximum from the items path itself.
    codes = [s.code for s in layer.statuses]
    return [
        _query("bbox", {"type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}},
               "minx,miny,maxx,maxy in WGS84 lon/lat (CRS84); sites whose geometry meets the box",
               style="form", explode=False),
        _query("datetime", {"type": "string"},
               "instant or interval start/end (RFC 3339, '..' for an open end) of the last inspection",
               style="form", explode=False),
        _query("limit", {"type": "integer", "minimum": 1, "maximum": collections.MAX_LIMIT,
                         "default": collections.DEFAULT_LIMIT},
               f"items per page; a larger value is served as {collections.MAX_LIMIT}", style="form",
               explode=False),
        _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "items to skip (see the next link)",
               style="form", explode=False),
        _query("status", {"type": "array", "items": {"type": "string", "enum": codes}},
               "effective status codes, comma-separated", style="form", explode=False),
        _query("county", {"type": "string"}, "county code (e.g. 210726)", style="form", explode=False),
    ]


def _feature_schema(layer: LayerDef) -> dict:
    text, when = {"type": "string"}, {"type": "string", "format": "date-time", "nullable": True}
    properties = {
        "layer": {"type": "string", "enum": [layer.id]}, "name": text, "status_label": text,
        "status": {"type": "string", "enum": [s.code for s in layer.statuses]},
        "county": {**text, "nullable": True}, "ref": {**text, "nullable": True},
        "version": {"type": "integer"}, "updated_at": when, "last_inspected_at": when,
        "last_result": {"type": "string", "enum": ["pass", "fail", None], "nullable": True},
        "report_count": {"type": "integer", "minimum": 0},
    }
    for attribute in layer.attributes:
        # Null where a site does not have the attribute (exports list every attribute of the layer).
        schema = dict(_ATTRIBUTE_SCHEMA[attribute.type], nullable=True,
                      description=attribute.label.get("zh_CN", ""))
        if attribute.values:
            schema["enum"] = [*attribute.values, None]
        properties[attribute.name] = schema
    kinds = [kind for base in layer.geometry_type for kind in (base, f"Multi{base}")]
    return {"type": "object", "required": ["type", "id", "geometry", "properties"], "properties": {
        "type": {"type": "string", "enum": ["Feature"]}, "id": {"type": "integer"},
        "geometry": {"type": "object", "nullable": True, "required": ["type", "coordinates"], "properties": {
            "type": {"type": "string", "enum": kinds}, "coordinates": {"type": "array"}}},
        "properties": {"type": "object", "required": ["layer", "name", "status", "report_count"],
                       "properties": properties},
        "links": {"type": "array", "items": _ref("schemas", "link")}}}


def _components(layer_list: list[LayerDef]) -> dict:
    error = {"description": "error", "content": {JSON: {"schema": _ref("schemas", "exception")}}}
    link = {"type": "object", "required": ["href", "rel"], "properties": {
        name: {"type": "string"} for name in ("href", "rel", "type", "title", "hreflang")}}
    links = {"type": "array", "items": _ref("schemas", "link")}
    interval = {"type": "array", "minItems": 2, "maxItems": 2,
                "items": {"type": "string", "format": "date-time", "nullable": True}}
    extent = {"type": "object", "properties": {
        "spatial": {"type": "object", "properties": {
            "bbox": {"type": "array", "minItems": 1, "items": {
                "type": "array", "minItems": 4, "maxItems": 4, "items": {"type": "number"}}},
            "crs": {"type": "string", "enum": [collections.CRS84]}}},
        "temporal": {"type": "object", "properties": {
            "interval": {"type": "array", "minItems": 1, "items": interval}, "trs": {"type": "string"}}}}}
    schemas = {
        "link": link,
        "exception": {"type": "object", "required": ["error", "message"], "properties": {
            "error": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"}}},
        "landingPage": {"type": "object", "required": ["links"], "properties": {
            "title": {"type": "string"}, "description": {"type": "string"}, "links": links}},
        "confClasses": {"type": "object", "required": ["conformsTo"], "properties": {
            "conformsTo": {"type": "array", "items": {"type": "string"}}}},
        "collection": {"type": "object", "required": ["id", "links"], "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
            "links": links, "extent": extent, "itemType": {"type": "string", "enum": ["feature"]},
            "crs": {"type": "array", "items": {"type": "string"}}}},
        "collections": {"type": "object", "required": ["links", "collections"], "properties": {
            "links": links, "collections": {"type": "array", "items": _ref("schemas", "collection")}}},
    }
    for layer in layer_list:
        schemas[f"{layer.id}.feature"] = _feature_schema(layer)
        schemas[f"{layer.id}.featureCollection"] = {
            "type": "object",
            "required": ["type", "features", "numberMatched", "numberReturned", "timeStamp"],
            "properties": {
                "type": {"type": "string", "enum": ["FeatureCollection"]},
                "features": {"type": "array", "items": _ref("schemas", f"{layer.id}.feature")},
                "links": links, "timeStamp": {"type": "string", "format": "date-time"},
                "numberMatched": {"type": "integer", "minimum": 0},
                "numberReturned": {"type": "integer", "minimum": 0}}}
    return {
        "schemas": schemas,
        "parameters": {
            "f": _query("f", {"type": "string", "enum": ["json", "html"]},
                        "response format; without it the Accept header decides (JSON by default)",
                        style="form", explode=False),
            "lang": _query("lang", {"type": "string", "enum": list(LANGUAGES)}, "language of titles",
                           style="form", explode=False),
        },
        "responses": {"BadRequest": error, "Unauthorized": error, "Forbidden": error, "NotFound": error},
        "securitySchemes": {
            "bearerToken": {"type": "http", "scheme": "bearer",
                            "description": "token from `onemap users token`"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session"}},
    }


def openapi_document(layer_list: list[LayerDef]) -> dict:
    """The OpenAPI 3.0 description of this API, written from the layers: one set of paths per collection."""
    paths = {
        "/": _operation("landing page", "getLandingPage", _content(_ref("schemas", "landingPage"))),
        "/conformance": _operation("conformance classes", "getConformance",
                                   _content(_ref("schemas", "confClasses"))),
        "/api": _operation("this document", "getAPI", _content({"type": "object"}, OPENAPI)),
        "/collections": _operation("collections", "getCollections", _content(_ref("schemas", "collections"))),
    }
    for layer in layer_list:
        base, name = f"/collections/{layer.id}", layer.name.get("zh_CN", layer.id)
        paths[base] = _operation(f"{name}: collection", f"describe.{layer.id}",
                                 _content(_ref("schemas", "collection")), not_found=True)
        paths[f"{base}/items"] = _operation(
            f"{name}: items", f"getFeatures.{layer.id}",
            _content(_ref("schemas", f"{layer.id}.featureCollection"), GEOJSON), _item_parameters(layer),
            not_found=True)
        feature_id = {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"},
                      "description": "site id"}
        paths[f"{base}/items/{{featureId}}"] = _operation(
            f"{name}: one item", f"getFeature.{layer.id}",
            _content(_ref("schemas", f"{layer.id}.feature"), GEOJSON), [feature_id], not_found=True)
    return {
        "openapi": "3.0.3",
        "info": {"title": "OneMap 一张图 — OGC API – Features", "version": "1.0.0",
                 "description": "Site layers of OneMap as OGC API – Features collections (Part 1)."},
        "servers": [{"url": url_for("ogc.landing", _external=True).rstrip("/")}],
        "security": [{"bearerToken": []}, {"session": []}],
        "paths": paths,
        "components": _components(layer_list),
    }
