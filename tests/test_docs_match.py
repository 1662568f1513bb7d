"""The guides say what the code does: every path and status the server sends is in docs/api-guide.md (issue 12
item 10; diagram properties: tests/test_vocabulary.py). Each test names what is missing, so a new route or status
fails here until its guide says what it is."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from api import problems
from tests.api.conftest import app_config
from tests.apps import make_app

ROOT = Path(__file__).resolve().parent.parent
API_GUIDE = ROOT / "docs" / "api-guide.md"
CONVENTIONS = ROOT / "docs" / "process-conventions.md"

#: Routes that serve files for a page, not something a client calls (each with its reason).
NOT_DOCUMENTED = {
    "/api/docs/assets/{}": "Swagger UI's own scripts and styles, loaded by /api/docs",
    "/assets/{}": "the web pages' scripts and styles",
    "/static/{}": "Flask's static files",
}


def _placeholders(text: str) -> str:
    """`{case_id}`, `<id>`, `<path:filename>` all read as `{}`."""
    return re.sub(r"<[^>]*>|\{[^}]*\}", "{}", text)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return make_app(app_config(tmp_path_factory.mktemp("docs-match")))


def _routes(app):
    for rule in app.url_map.iter_rules():
        path = _placeholders(rule.rule)
        if path in NOT_DOCUMENTED:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def _mentioned(method: str, path: str, guide: str) -> bool:
    """`METHOD /path` in the guide, the path ending there (a query string or the end of the code span may follow)."""
    return re.search(rf"{method} {re.escape(path)}(?![\w/{{.-])", guide) is not None


def test_every_api_path_and_method_is_in_the_api_guide(app):
    guide = _placeholders(API_GUIDE.read_text())
    missing = sorted(f"{m} {p}" for m, p in _routes(app) if p.startswith("/api/") and not _mentioned(m, p, guide))
    assert missing == [], "add these to docs/api-guide.md"


def test_every_page_is_in_the_api_guide(app):
    guide = _placeholders(API_GUIDE.read_text())
    missing = sorted(f"{m} {p}" for m, p in _routes(app) if not p.startswith("/api/") and not _mentioned(m, p, guide))
    assert missing == [], "add these to the pages table of docs/api-guide.md"


def _status_table(guide: str) -> set[int]:
    section = guide.split("### Status codes", 1)[1].split("\n#", 1)[0]
    return {int(m) for m in re.findall(r"^\| (\d{3}) \|", section, re.M)}


def test_every_error_status_is_in_the_status_table(app):
    """Every status the problem handler can answer with (the statuses it has a title for, the engine errors it
    maps) and every error status in the OpenAPI document or sent by the readiness check."""
    sent = set(problems._TITLES) | {status for _exc, status in problems._STATUS}
    spec = app.test_client().get("/api/openapi.json").get_json()
    sent |= {int(code) for ops in spec["paths"].values() for op in ops.values() if isinstance(op, dict)
             for code in op.get("responses", {}) if code.isdigit()}
    sent.add(503)  # /readyz when the database or the scheduler does not answer (engine/health.py)
    errors = {s for s in sent if s >= 400}
    assert errors - _status_table(API_GUIDE.read_text()) == set(), "add these rows to 'Status codes'"
    successes = {s for s in sent if s < 400}
    guide = API_GUIDE.read_text()
    assert {s for s in successes if f"`{s}`" not in guide} == set(), "say when these are answered"


# Diagram properties: tests/test_vocabulary.py checks the conventions guide against the one declaration of the
# properties (engine/vocabulary.py), and tests/test_architecture.py the properties the shipped diagrams use.
