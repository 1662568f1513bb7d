"""The process studio (quality managers): server-rendered shells whose JavaScript (api/static/studio/) calls the
existing REST API — process definitions, validation, deployment, differences and migration — with the session
cookie. Nothing is decided here: the API (and the engine behind it) checks who may deploy or migrate, so a page
shown to someone else only ever gets the API's 403. The pages share the staff pages' strict CSP (no inline
script) and their vendored libraries (bpmn-js modeler, dmn-js, json-editor under api/static/vendor/)."""
from __future__ import annotations

from flask import Blueprint

from .web import render_page

bp = Blueprint("studio", __name__, url_prefix="/studio", template_folder="templates")


def _page(template: str, **context):
    return render_page(f"studio/{template}", page="studio", **context)


@bp.get("")
def index():
    """Every process with its versions: who deployed each, when, why, and how many cases run on it."""
    return _page("index.html")


@bp.get("/<key>/versions/<int:version>")
def editor(key: str, version: int):
    """A version opened for editing: the BPMN modeler with the properties panel, DMN tables, forms with a live
    preview; validate and deploy the result as a new version."""
    return _page("editor.html", key=key, version=version)


@bp.get("/<key>/diff")
def diff(key: str):
    """Two versions compared: added, removed and changed elements marked on the diagrams and listed."""
    return _page("diff.html", key=key)


@bp.get("/<key>/versions/<int:version>/migrate")
def migrate(key: str, version: int):
    """Move open cases of a version to another: dry run first, then migrate the chosen cases."""
    return _page("migrate.html", key=key, version=version)
