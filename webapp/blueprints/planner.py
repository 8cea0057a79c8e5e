"""Planner pages: the map (a first version: layers, status counts and county boundaries)."""

from flask import Blueprint, render_template

from webapp.context import get_uow, layers

bp = Blueprint("planner", __name__)


@bp.get("/")
def index():
    with get_uow() as uow:
        counts = uow.sites.counts()
    summary = [
        (layer, [(status, counts.get((layer.id, status.code), 0)) for status in layer.statuses])
        for layer in layers().values()
    ]
    return render_template("planner/map.html", summary=summary)
