"""Browser fixtures: the real Flask app served by werkzeug on 127.0.0.1 (a free port) over a real SQLite
file, and Debian's headless Chromium driven by Playwright. No mocks: the pages call the real API.

Skips with the reason when Playwright or /usr/bin/chromium is missing (never a downloaded browser)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.apps import make_app

from ..api.conftest import PASSWORD, app_config
from ..conftest import FORMS, PROCESSES
from ..engine.bpmn_builder import SIMPLE_FORM, flow, process, two_step, user_task

CHROMIUM = Path(os.environ.get("ACCREDIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

#: key -> (username, roles, organisation)
USERS = {"applicant": ("alice", ["applicant"], "lab-a"), "coordinator": ("carol", ["coordinator"], None),
         "quality_manager": ("quinn", ["quality_manager"], None)}


def signed_bundle():
    """start → 'sign' (applicant, form simple.json, an electronic signature meaning 'approval') → end."""
    body = ('<bpmn:startEvent id="start"/>'
            + user_task("sign", "Approve the answer", "simple.json", {"signatureMeaning": "approval"})
            + '<bpmn:endEvent id="end"/>' + flow("s1", "start", "sign") + flow("s2", "sign", "end"))
    return {"signed.bpmn": process("signed", {"applicant": ["start", "sign", "end"]}, body),
            "simple.json": SIMPLE_FORM}


def membership_bundle():
    """The shipped membership process (it has a drawn diagram) with its forms."""
    files = {"membership.bpmn": (PROCESSES / "membership.bpmn").read_text()}
    for name in ("membership_application.json", "membership_review.json", "record_dues.json"):
        files[name] = (FORMS / name).read_text()
    return files


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; the browser is Debian's chromium)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ACCREDIT_CHROMIUM)"
    return None


class Site:
    """The running server and helpers to act through the API as a user (to set up and to check)."""

    def __init__(self, app, base_url: str):
        self.app, self.base_url = app, base_url
        self.services = app.extensions["accredit"]

    def username(self, who: str) -> str:
        return USERS[who][0]

    def client(self, who: str):
        client = self.app.test_client()
        r = client.post("/api/session", json={"username": self.username(who), "password": PASSWORD})
        assert r.status_code == 200, r.get_json()
        client.environ_base["HTTP_SEC_FETCH_SITE"] = "same-origin"  # as a browser on this site (CSRF check)
        return client

    def start(self, process_key: str, who: str = "applicant", **body) -> dict:
        r = self.client(who).post("/api/cases", json={"process": process_key, **body})
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    def case(self, case_id: str, who: str = "coordinator") -> dict:
        r = self.client(who).get(f"/api/cases/{case_id}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def task(self, task_id: str, who: str = "coordinator") -> dict:
        r = self.client(who).get(f"/api/tasks/{task_id}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()


def _serve(tmp_path_factory, bundles, **config):
    missing = _browser_missing()
    if missing:
        pytest.skip(f"browser tests need a browser: {missing}")
    directory = tmp_path_factory.mktemp("web")
    app = make_app(app_config(directory, **config))
    if "web" not in app.blueprints:  # create_app registers the pages; kept for an app built without them
        from api.web import bp

        app.register_blueprint(bp)
    svc = app.extensions["accredit"]
    for bundle in bundles:
        svc.engine.deploy(bundle, deployed_by="tests")
    svc.identity.create_organisation("lab-a", "Lab A")
    for username, roles, org in USERS.values():
        svc.identity.create_user(username, PASSWORD, roles, organisation_id=org, display_name=username.title())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        svc.db.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    yield from _serve(tmp_path_factory, (two_step(), signed_bundle(), membership_bundle()))


@pytest.fixture(scope="module")
def shipped_site(tmp_path_factory):
    """The shipped library (processes/, forms/) deployed at start-up, as `accredit serve` does; uploads are
    limited to MAX_UPLOAD bytes (tests/api/conftest.py)."""
    yield from _serve(tmp_path_factory, (), DEPLOY_SHIPPED=True)


@pytest.fixture(scope="module")
def browser():
    missing = _browser_missing()
    if missing:
        pytest.skip(f"browser tests need a browser: {missing}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Page:
    """A Playwright page that records every JavaScript error and console error: tests assert there are none."""

    def __init__(self, page, site: Site):
        self.page, self.site = page, site
        self.problems: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console: {msg.text}"))

    def goto(self, path: str):
        self.page.goto(self.site.base_url + path)

    def sign_in(self, who: str, password: str = PASSWORD, path: str = "/"):
        self.goto(path)
        self.page.get_by_label("Username").fill(self.site.username(who))
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()

    def assert_no_errors(self, allow: tuple[str, ...] = ()):
        left = [p for p in self.problems if not any(a in p for a in allow)]
        assert not left, left


@pytest.fixture
def web(request, browser):
    site = request.getfixturevalue("shipped_site" if "shipped_site" in request.fixturenames else "site")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield Page(page, site)
    finally:
        context.close()
