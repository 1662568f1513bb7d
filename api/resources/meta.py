"""Health and the Swagger UI assets (served locally: no CDN)."""
from __future__ import annotations

from flask import Blueprint, jsonify, send_from_directory

bp = Blueprint("meta", __name__, url_prefix="/api")


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/docs/assets/<path:filename>")
def swagger_assets(filename):
    import swagger_ui_bundle

    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)
