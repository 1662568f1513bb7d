"""Audit console pages (/audit…): a case's history as a filterable timeline with verification, signatures
and exports; the system history; and "where the process hurts" (step heat on the diagram).

Like the staff pages (api/web.py) these are server-rendered shells: every figure is read by the page's
JavaScript from the REST API with the session cookie, so a page shows exactly what the API lets its reader
see (auditors every case; anyone else read-only, the cases they may see). The pages hold no form that
writes: filters and verification only read."""
from __future__ import annotations

from flask import Blueprint

from .web import render_page

bp = Blueprint("audit_pages", __name__, url_prefix="/audit", template_folder="templates")


def _page(template: str, **context):
    return render_page(f"audit/{template}", page="audit", **context)


@bp.get("")
def index():
    """Find a case to audit; links to the system history and the step heat (by role)."""
    return _page("index.html")


@bp.get("/cases/<case_id>")
def case(case_id: str):
    """One case: verification verdict and head, signatures, exports, and the filterable timeline."""
    return _page("case.html", case_id=case_id)


@bp.get("/system")
def system():
    """The system history (sign-ins, failures, deployments, account changes, exports) with the same filters."""
    return _page("system.html")


@bp.get("/steps")
def steps():
    """Where the process hurts: per step of a process version, waiting cases, time spent, missed deadlines."""
    return _page("steps.html")
