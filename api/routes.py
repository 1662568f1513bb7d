"""HTTP resources (the first ones; the full case/task API follows in its own change)."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("api", __name__, url_prefix="/api")


def engine():
    return current_app.extensions["accredit.engine"]


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/process-definitions")
def process_definitions():
    rows = engine().definitions()
    for r in rows:
        r["deployed_at"] = r["deployed_at"].isoformat()
    return jsonify(rows)
