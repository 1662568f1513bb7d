"""The administration page (/admin): users, organisations and API tokens. A server-rendered shell whose
JavaScript (api/static/admin/admin.js) calls /api/admin — the page itself shows no data, so it is exactly
as protected as the API (admin role)."""
from __future__ import annotations

from flask import Blueprint, make_response, render_template

bp = Blueprint("admin_pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@bp.get("/admin")
def admin():
    """Users (create, roles, organisation, deactivate/reactivate), organisations, each user's API tokens."""
    response = make_response(render_template("admin/admin.html", page="admin"))
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response
