"""Form schemas over HTTP: a form's ``$ref`` never leaves the form (no URL is fetched, no file read — a real
listener counts any attempt), a form or UI schema that cannot work at run time is refused at validate and deploy
naming the file and the JSON pointer, and a version deployed before those checks (its stored files rewritten here,
as an older release left them) answers with 4xx problems and readable task pages, never a 500."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from engine.storage.models import ProcessDefinition
from tests.apps import make_app

from ..engine.bpmn_builder import SIMPLE_FORM, two_step
from .conftest import Api, app_config, assert_problem
from .test_declared_starts import _bundle as start_form_bundle
from .test_definitions_api import multipart

QM = "quality_manager"
VALIDATE, DEPLOY = "/api/process-definitions/validate", "/api/process-definitions"
UI = "simple.uischema.json"


@pytest.fixture
def listener():
    """A real HTTP server on the loopback: every path a request asks for is recorded (the server answers with
    a schema that accepts anything, as an attacker's would)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass  # the hits list is the record; no access log on the test's stderr

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def _with_ui(bundle: dict, ui_text: str) -> dict:
    """two_step whose 'ask' task also names a UI schema."""
    prop = '<spiffworkflow:property name="formJsonSchemaFilename" value="simple.json"/>'
    bpmn = bundle["two_step.bpmn"]
    assert prop in bpmn
    ui_prop = f'<spiffworkflow:property name="formUiSchemaFilename" value="{UI}"/>'
    return {**bundle, "two_step.bpmn": bpmn.replace(prop, prop + ui_prop), UI: ui_text}


def _form(answer: dict | None = None, **top) -> str:
    return json.dumps({"type": "object", "properties": {"answer": answer or {"type": "string"}}, **top})


def _nested(levels: int) -> str:
    return '{"type": "object", "properties": {"answer": ' + '{"not": ' * levels + "{}" + "}" * levels + "}}"


#: (id, files changed in two_step, the file named, words of the problem)
REFUSED = [
    ("remote-ref", {"simple.json": _form({"$ref": "{listener}/schema"})}, "simple.json",
     "$ref at '/properties/answer/$ref' ('{listener}/schema') points outside the form"),
    ("file-ref", {"simple.json": _form({"$ref": "file:///etc/passwd"})}, "simple.json",
     "$ref at '/properties/answer/$ref' ('file:///etc/passwd') points outside the form"),
    ("relative-ref", {"simple.json": _form({"$ref": "other.json#/x"})}, "simple.json", "points outside the form"),
    ("missing-ref", {"simple.json": _form({"$ref": "#/$defs/nope"})}, "simple.json",
     "$ref at '/properties/answer/$ref' ('#/$defs/nope') resolves to nothing in the form"),
    ("missing-anchor", {"simple.json": _form({"$dynamicRef": "#nope"})}, "simple.json",
     "$dynamicRef at '/properties/answer/$dynamicRef' ('#nope') resolves to nothing in the form"),
    ("self-ref", {"simple.json": _form(allOf=[{"$ref": "#"}])}, "simple.json",
     "$ref at '/allOf/0/$ref' closes a loop of schemas that all check the same value"),
    ("mutual-refs", {"simple.json": _form({"$ref": "#/$defs/a"}, **{"$defs": {
        "a": {"anyOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}}})}, "simple.json",
     "closes a loop of schemas that all check the same value"),
    ("ref-to-array", {"simple.json": _form({"$ref": "#/required"}, required=["answer"])}, "simple.json",
     "$ref at '/properties/answer/$ref' ('#/required') points to an array, not a schema"),
    ("form-true", {"simple.json": "true"}, "simple.json", "form must be a JSON object ({…}), not a boolean"),
    ("form-array", {"simple.json": "[]"}, "simple.json", "form must be a JSON object ({…}), not an array"),
    ("deep-brackets", {"simple.json": "[" * 100_000 + "]" * 100_000}, "simple.json",
     "form is nested too deeply to read"),
    ("deep-schema", {"simple.json": _nested(300)}, "simple.json", "form is nested more than 64 levels deep"),
    ("ui-array", {UI: "[1, 2]"}, UI, "UI schema must be a JSON object ({…}), not an array"),
    ("ui-string", {UI: '"hello"'}, UI, "UI schema must be a JSON object ({…}), not a string"),
    ("ui-number", {UI: "1e308"}, UI, "UI schema must be a JSON object ({…}), not a number"),
    ("ui-deep", {UI: "[" * 100_000 + "]" * 100_000}, UI, "UI schema is nested too deeply to read"),
]


@pytest.mark.parametrize("changes, name, words", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
@pytest.mark.parametrize("path", [VALIDATE, DEPLOY])
def test_a_form_that_cannot_work_is_refused_naming_the_file_and_where(api, listener, path, changes, name, words):
    url, hits = listener
    files = {n: t.replace("{listener}", url) for n, t in _with_ui(two_step(), "{}").items()}
    files.update({n: t.replace("{listener}", url) for n, t in changes.items()})
    r = api.client(QM).post(path, **multipart(files))
    if path == VALIDATE:
        assert r.status_code == 200 and not r.get_json()["valid"], r.get_json()
        errors = r.get_json()["errors"]
    else:
        errors = assert_problem(r, 422)["errors"]
    words = words.replace("{listener}", url)
    assert any(e["file"] == name and words in e["message"] for e in errors), errors
    assert hits == []  # nothing was fetched to check it either


@pytest.mark.parametrize("form", [
    # a tree: the reference goes one level into the value each time, so checking it ends
    {"type": "object", "properties": {"answer": {"$ref": "#/$defs/node"}}, "$defs": {"node": {
        "type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}}},
    {"type": "object", "$dynamicAnchor": "node", "properties": {"answer": {"type": "string"},
                                                                 "more": {"$dynamicRef": "#node"}}},
    {"type": "object", "properties": {"answer": {"$ref": "#/$defs/a"}}, "$defs": {"a": {"$anchor": "A", "type": "string"}},
     "allOf": [{"properties": {"note": {"$ref": "#A"}}}]},
], ids=["tree", "dynamic-anchor", "anchor"])
def test_local_references_that_end_still_deploy_and_check_data(api, form):
    files = {**two_step(), "simple.json": json.dumps(form)}
    r = api.client(QM).post(DEPLOY, **multipart(files))
    assert r.status_code == 201, r.get_json()
    case = api.start()
    r = api.client("applicant_a").post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": 7}})
    assert_problem(r, 422)


# -- a version deployed before these checks -----------------------------------------------------------------

def _as_stored(make_api, tmp_path, bundle: dict, stored: dict[str, str]) -> Api:
    """An app whose latest version of the bundle's process holds ``stored`` (files deploy refuses now), as an
    earlier release could have deployed it: deployed clean, then its stored files rewritten in the database."""
    api = make_api()
    api.services.engine.deploy(bundle, deployed_by="tests")
    key = next(n for n in bundle if n.endswith(".bpmn"))[:-5]
    with api.services.db.write() as s:
        row = s.scalar(sa.select(ProcessDefinition).where(ProcessDefinition.key == key)
                       .order_by(ProcessDefinition.version.desc()).limit(1))
        row.files = {**row.files, **stored}
    api.services.db.dispose()
    return Api(make_app(app_config(tmp_path / "app")))  # a new process: nothing cached from before


@pytest.mark.parametrize("form, words", [
    (_form({"$ref": "{listener}/schema"}), "resolves to nothing inside the form"),
    (_form({"$ref": "file:///etc/passwd"}), "resolves to nothing inside the form"),
    (_form({"$ref": "#/$defs/nope"}), "resolves to nothing inside the form"),
    (_form({"$dynamicRef": "#nope"}), "resolves to nothing inside the form"),
    (_form(allOf=[{"$ref": "#"}]), "its references loop without end"),
], ids=["remote-ref", "file-ref", "missing-ref", "missing-anchor", "self-ref"])
def test_an_old_version_with_a_bad_ref_is_a_422_naming_the_form_and_fetches_nothing(make_api, tmp_path, listener,
                                                                                    form, words):
    url, hits = listener
    api = _as_stored(make_api, tmp_path, two_step(), {"simple.json": form.replace("{listener}", url)})
    try:
        case = api.start()
        task = case["tasks"][0]["id"]
        r = api.client("applicant_a").post(f"/api/tasks/{task}/complete", json={"data": {"answer": "yes"}})
        body = assert_problem(r, 422)
        assert "form 'simple.json' cannot be applied" in body["detail"] and words in body["detail"], body
        assert "root:" not in r.get_data(as_text=True)
        assert api.client("applicant_a").get(f"/api/tasks/{task}").get_json()["status"] == "ready"
    finally:
        api.services.db.dispose()
    assert hits == []


def test_an_old_start_form_with_a_remote_ref_fetches_nothing(make_api, tmp_path, listener):
    url, hits = listener
    bundle = start_form_bundle("with_start_form", {"formJsonSchemaFilename": "simple.json"})
    api = _as_stored(make_api, tmp_path, bundle, {"simple.json": _form({"$ref": f"{url}/schema"})})
    try:
        r = api.client("applicant_a").post("/api/cases", json={"process": "with_start_form",
                                                                 "data": {"answer": "yes"}})
        assert "form 'simple.json' cannot be applied" in assert_problem(r, 422)["detail"]
    finally:
        api.services.db.dispose()
    assert hits == []


def test_an_old_form_that_is_just_true_still_starts_and_reads(make_api, tmp_path):
    api = _as_stored(make_api, tmp_path, two_step(), {"simple.json": "true"})
    try:
        case = api.start()
        alice = api.client("applicant_a")
        assert alice.get(f"/api/cases/{case['id']}").status_code == 200
        task = case["tasks"][0]["id"]
        r = alice.get(f"/api/tasks/{task}")
        assert r.status_code == 200 and r.get_json()["form"]["schema"] == {}, r.get_json()
        r = alice.post(f"/api/tasks/{task}/complete", json={"data": {"answer": "yes"}})
        assert r.status_code == 200, r.get_json()
    finally:
        api.services.db.dispose()


@pytest.mark.parametrize("ui", ["[1, 2]", '"hello"', "1e308", "true"])
def test_an_old_ui_schema_that_is_not_an_object_leaves_the_task_readable(make_api, tmp_path, ui):
    api = _as_stored(make_api, tmp_path, _with_ui(two_step(), '{"answer": {"ui:widget": "radio"}}'), {UI: ui})
    try:
        case = api.start()
        r = api.client("applicant_a").get(f"/api/tasks/{case['tasks'][0]['id']}")
        assert r.status_code == 200, r.get_data(as_text=True)[:300]
        assert r.get_json()["form"]["ui_schema"] in (None, {}) and r.get_json()["form"]["name"] == "simple.json"
    finally:
        api.services.db.dispose()


def test_the_shipped_forms_pass_the_checks():
    from engine.definitions.validation_forms import ref_problems

    from ..conftest import FORMS

    forms = {p.name: json.loads(p.read_text()) for p in FORMS.glob("*.json")}
    assert forms and all(isinstance(f, dict) for f in forms.values())
    assert {n: ref_problems(f) for n, f in forms.items() if ref_problems(f)} == {}
    assert SIMPLE_FORM  # the tests' own form deploys everywhere above
