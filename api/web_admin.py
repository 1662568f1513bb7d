"""The administration page (/admin): users, organisations and API tokens. A server-rendered shell whose
JavaScript (api/static/admin/admin.js) calls /api/admin — the page itself shows no data, so it is exactly
as protected as the API (admin role)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin_pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")

_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


@bp.get("/admin")
def admin():
    """Users (create, roles, organisation, deactivate/reactivate), organisations, each user's API tokens."""
    from .web import render_page

    return render_page("admin/admin.html", csp=_CSP, page="admin")
