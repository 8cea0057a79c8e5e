"""`/healthz`: 200 when the database answers, for load balancers and monitoring."""

from flask import Blueprint, jsonify

from webapp.context import store

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    if store().ping():
        return jsonify(status="ok")
    return jsonify(status="unavailable", message="the database does not answer"), 503
