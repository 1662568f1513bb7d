"""Health and the Swagger UI assets (served locally: no CDN)."""
from __future__ import annotations

from flask import Blueprint, jsonify, send_from_directory

bp = Blueprint("meta", __name__, url_prefix="/api")


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


def _live():
    """Liveness: the process answers; nothing else is touched (a restart is the only remedy if not)."""
    return jsonify({"status": "ok"})


def _ready():
    """Readiness: the database answers and a timer scheduler has reported within the last minute (see
    engine/health.py). 503 with what failed otherwise — a load balancer sends no traffic until it is 200."""
    from flask import current_app

    from engine.health import readiness

    result = readiness(current_app.extensions["accredit"].db,
                       require_scheduler=current_app.config.get("REQUIRE_SCHEDULER", True))
    return jsonify({"status": "ready" if result["ready"] else "not ready", **result}), 200 if result["ready"] else 503


@bp.get("/docs/assets/<path:filename>")
def swagger_assets(filename):
    import swagger_ui_bundle

    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
