"""HTTP fixtures: a real app on a real SQLite file per test, users of every role, clients signed in.

Building users costs an argon2 hash each, so a template database (migrated, test bundles deployed,
organisations and users created) is built once per session and copied per test with SQLite's backup API.
Everything after that goes through ``app.test_client()``: no mocks.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.apps import make_app
from engine.storage.models import Event

from ..engine.bpmn_builder import SIMPLE_FORM, flow, process, user_task, two_step
from ..engine.test_messages_timers import linked_bundle, timer_bundle

PASSWORD = "correct-horse-battery"

#: The test apps' upload limit (documents and process-definition bundles). Production's default is
#: engine.cases.workspace.DEFAULT_MAX_UPLOAD (25 MiB). Tests keep a smaller limit so the over-limit tests stay cheap,
#: but one with room: the studio sends a whole version (the shipped renewal and accreditation bundles are
#: ~200 kB each with their called phase processes, DMN tables and forms), and a quality manager's small edit
#: must never fail a test by size (tests/api/test_definitions_api.py checks the headroom).
MAX_UPLOAD = 1_000_000
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

#: key -> (username, roles, organisation)
USERS = {
    "applicant_a": ("alice", ["applicant"], "lab-a"),
    "applicant_a2": ("anna", ["applicant"], "lab-a"),
    "applicant_b": ("bob", ["applicant"], "lab-b"),
    "coordinator": ("carol", ["coordinator"], None),
    "coordinator2": ("chris", ["coordinator"], None),
    "inspector": ("ivan", ["inspector"], None),
    "inspector2": ("iris", ["inspector"], None),
    "committee": ("cody", ["committee"], None),
    "auditor": ("audrey", ["auditor"], None),
    "quality_manager": ("quinn", ["quality_manager"], None),
    "admin": ("adam", ["admin"], None),
}
ROLES = list(USERS)


def prio_bundle(pid: str, priority: int):
    """start → one applicant task 'answer' with a static priority → end."""
    body = ('<bpmn:startEvent id="start"/>'
            + user_task("answer", f"Answer ({priority})", "simple.json", {"priority": str(priority)})
            + '<bpmn:endEvent id="end"/>' + flow("p1", "start", "answer") + flow("p2", "answer", "end"))
    return {f"{pid}.bpmn": process(pid, {"applicant": ["start", "answer", "end"]}, body), "simple.json": SIMPLE_FORM}


TEAM_FORM = ('{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
             '"additionalProperties": false, "required": ["team"], '
             '"properties": {"team": {"type": "array", "items": {"type": "string"}, "maxItems": 5}}}')


def inspected_bundle():
    """start → 'name_team' (coordinator; its ``team`` is the case team) → 'inspect' (inspector lane, no form)
    → end: an inspector sees the case once on its team."""
    body = ('<bpmn:startEvent id="start"/>' + user_task("name_team", "Name the team", "team.json", {"caseTeam": "team"})
            + user_task("inspect", "Inspect", None) + '<bpmn:endEvent id="end"/>'
            + flow("i0", "start", "name_team") + flow("i1", "name_team", "inspect") + flow("i2", "inspect", "end"))
    return {"inspected.bpmn": process("inspected", {"coordinator": ["start", "name_team"],
                                                    "inspector": ["inspect", "end"]}, body),
            "team.json": TEAM_FORM}


BUNDLES = [two_step(), linked_bundle(), timer_bundle(), prio_bundle("prio_low", 1), prio_bundle("prio_high", 9),
           inspected_bundle()]


def app_config(directory: Path, **overrides) -> dict:
    config = {"DATABASE_URL": f"sqlite:///{directory / 'api.sqlite'}", "DEPLOY_SHIPPED": False, "DEMO": False,
              "ATTACHMENTS_DIR": str(directory / "files"), "SECRET_KEY": "test", "MAX_UPLOAD_BYTES": MAX_UPLOAD,
              "SESSION_IDLE_MINUTES": 15, "TESTING": False}
    config.update(overrides)
    return config


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("api-template")
    app = make_app(app_config(directory))
    svc = app.extensions["accredit"]
    for bundle in BUNDLES:
        svc.engine.deploy(bundle, deployed_by="tests")
    svc.identity.create_organisation("lab-a", "Lab A")
    svc.identity.create_organisation("lab-b", "Lab B")
    for username, roles, org in USERS.values():
        svc.identity.create_user(username, PASSWORD, roles, organisation_id=org, display_name=username.title())
    svc.db.dispose()
    return directory / "api.sqlite"


def copy_db(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(src) as source, sqlite3.connect(dst) as target:
        source.backup(target)
    source.close()
    target.close()


class Api:
    """One app and helpers to talk to it as any of the users."""

    def __init__(self, app):
        self.app = app
        self.services = app.extensions["accredit"]
        self._tokens: dict[str, str] = {}

    def username(self, who: str) -> str:
        return USERS[who][0]

    def token(self, who: str) -> str:
        if who not in self._tokens:
            self._tokens[who] = self.services.identity.issue_token(self.username(who), "tests")
        return self._tokens[who]

    def client(self, who: str | None = None, via: str = "token"):
        """A test client acting as ``who``: a bearer token (default) or a signed-in session cookie."""
        client = self.app.test_client()
        if who is None:
            return client
        if via == "token":
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self.token(who)}"
        else:
            r = client.post("/api/session", json={"username": self.username(who), "password": PASSWORD})
            assert r.status_code == 200, r.get_json()
            same_origin(client)
        return client

    def start(self, who: str = "applicant_a", process_key: str = "two_step", **body) -> dict:
        r = self.client(who).post("/api/cases", json={"process": process_key, **body})
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def task(self, case: dict, element_id: str, who: str = "coordinator") -> dict:
        r = self.client(who).get(f"/api/cases/{case['id']}")
        assert r.status_code == 200, r.get_json()
        matches = [t for t in r.get_json()["tasks"] if t["element_id"] == element_id]
        assert matches, f"{element_id} not ready: {[t['element_id'] for t in r.get_json()['tasks']]}"
        return matches[0]

    def system_events(self, action: str) -> list[Event]:
        import sqlalchemy as sa

        with self.services.db.read() as s:
            return list(s.scalars(sa.select(Event).where(Event.case_id.is_(None), Event.action == action)
                                  .order_by(Event.seq)))


@pytest.fixture
def make_api(template_db, tmp_path):
    """Build an app (config overrides allowed) on a fresh copy of the template database."""
    made = []

    def make(name: str = "app", **overrides) -> Api:
        directory = tmp_path / name
        copy_db(template_db, directory / "api.sqlite")
        api = Api(make_app(app_config(directory, **overrides)))
        made.append(api)
        return api

    yield make
    for api in made:
        api.services.db.dispose()


@pytest.fixture
def api(make_api) -> Api:
    return make_api()


def same_origin(client):
    """Make a test client send what a browser sends with a request from a page of this site: cookie-signed
    writes without it are refused as cross-site (api/auth.py check_same_origin)."""
    client.environ_base["HTTP_SEC_FETCH_SITE"] = "same-origin"
    return client


def assert_problem(response, status: int) -> dict:
    """An RFC 9457 problem document with the given status."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.get_json()
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"]
    assert isinstance(body.get("detail"), str) and body["detail"]
    return body


def fields_of(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}
