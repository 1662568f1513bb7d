"""Process definitions over HTTP: versions, validation reports, deployment (quality managers only), downloads,
diffs, migration of running cases — and a diagram saved by bpmn.io deploys as it is."""
from __future__ import annotations

import functools
import http.server
import io
import os
import threading
import zipfile
from pathlib import Path

import pytest

from tests.apps import make_app

from ..conftest import FORMS, PROCESSES
from ..engine.bpmn_builder import SIMPLE_FORM, flow, process, two_step, user_task
from ..engine.test_deployment import called_bundle, two_step_v2, two_step_without_review
from .conftest import ROLES, Api, app_config, assert_problem

QM = "quality_manager"


def multipart(files: dict[str, str | bytes], note: str | None = "a change"):
    data = {"files": [(io.BytesIO(t.encode() if isinstance(t, str) else t), n) for n, t in files.items()]}
    if note is not None:
        data["note"] = note
    return {"data": data, "content_type": "multipart/form-data"}


def deploy(api, files, who=QM, note="a change"):
    return api.client(who).post("/api/process-definitions", **multipart(files, note))


def definitions(api, who="coordinator") -> dict[str, dict]:
    r = api.client(who).get("/api/process-definitions")
    assert r.status_code == 200, r.get_json()
    return {d["key"]: d for d in r.get_json()}


def answer(api, case_id, element_id, who, data=None):
    task = api.task({"id": case_id}, element_id, who)
    r = api.client(who).post(f"/api/tasks/{task['id']}/complete", json={"data": data or {}})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# -- versions ----------------------------------------------------------------------------------------------

def test_deploy_v2_new_cases_use_it_old_cases_finish_on_v1(api):
    old = api.start()
    before = definitions(api)["two_step"]
    assert before["latest_version"] == 1 and before["versions"][0]["open_cases"] == 1

    r = deploy(api, {"two_step.bpmn": two_step_v2()["two_step.bpmn"]}, note="archive after review")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["valid"] and body["deployed_by"] == "quinn" and body["note"] == "archive after review"
    assert [(d["key"], d["version"], d["created"]) for d in body["deploy"]] == [("two_step", 2, True)]
    assert body["supplemented"] == [{"file": "simple.json", "from": "two_step v1"}]
    assert deploy(api, {"two_step.bpmn": two_step_v2()["two_step.bpmn"]}).status_code == 200  # nothing new

    entry = definitions(api, "applicant_a")["two_step"]
    assert entry["latest_version"] == 2 and entry["open_cases"] == 1
    assert [(v["version"], v["latest"], v["open_cases"], v["note"]) for v in entry["versions"]] == [
        (1, False, 1, None), (2, True, 0, "archive after review")]

    new = api.start()
    assert (old["definition_version"], new["definition_version"]) == (1, 2)
    for case in (old, new):
        answer(api, case["id"], "ask", "applicant_a", {"answer": "yes"})
        answer(api, case["id"], "review", "coordinator")
    assert api.client("coordinator").get(f"/api/cases/{old['id']}").get_json()["status"] == "completed"
    answer(api, new["id"], "archive", "coordinator")
    assert api.client("coordinator").get(f"/api/cases/{new['id']}").get_json()["status"] == "completed"


def test_version_detail_file_download_and_roll_back_by_deploying_old_files_again(api):
    assert deploy(api, two_step_v2()).status_code == 201
    reader = api.client("auditor")
    detail = reader.get("/api/process-definitions/two_step/versions/1").get_json()
    assert (detail["key"], detail["version"], detail["latest"], detail["latest_version"]) == ("two_step", 1, False, 2)
    assert {f["name"]: f["kind"] for f in detail["files"]} == {"two_step.bpmn": "bpmn", "simple.json": "form"}
    r = reader.get("/api/process-definitions/two_step/versions/1/files/two_step.bpmn")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    assert r.get_data(as_text=True) == two_step()["two_step.bpmn"]
    assert "attachment" in r.headers["Content-Disposition"]
    assert_problem(reader.get("/api/process-definitions/two_step/versions/1/files/nope.bpmn"), 404)
    assert_problem(reader.get("/api/process-definitions/two_step/versions/9"), 404)

    z = reader.get("/api/process-definitions/two_step/versions/1/bundle.zip")
    assert z.status_code == 200 and z.mimetype == "application/zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(z.data)).namelist()) == ["simple.json", "two_step.bpmn"]
    back = deploy(api, {"two_step-v1.zip": z.data}, note="roll back to v1")
    assert back.status_code == 201, back.get_json()
    deployed = {d["key"]: d for d in back.get_json()["deploy"]}
    assert (deployed["two_step"]["version"], deployed["two_step"]["created"]) == (3, True)
    # other processes using simple.json were checked too: same content, so no new version for them
    assert all(not d["created"] for k, d in deployed.items() if k != "two_step")
    versions = definitions(api)["two_step"]["versions"]
    assert versions[2]["content_hash"] == versions[0]["content_hash"]  # v3 is v1's content, history kept
    assert api.start()["definition_version"] == 3


def test_diff_between_versions(api):
    deploy(api, two_step_v2())
    r = api.client("committee").get("/api/process-definitions/two_step/diff?from=1&to=2")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["from_version"], body["to_version"]) == (1, 2)
    assert body["summary"] == {"added": 1, "removed": 0, "changed": 2}
    [p] = body["processes"]
    assert [e["element_id"] for e in p["added"]] == ["archive"]
    assert body["files"]["changed"] == ["two_step.bpmn"]
    assert_problem(api.client("committee").get("/api/process-definitions/two_step/diff?from=1"), 422)
    assert_problem(api.client("committee").get("/api/process-definitions/two_step/diff?from=1&to=5"), 404)


# -- validation --------------------------------------------------------------------------------------------

def _fresh(**kw):
    return two_step(pid="fresh", **kw)


def _with_lane(role):
    files = _fresh()
    files["fresh.bpmn"] = files["fresh.bpmn"].replace('name="coordinator"', f'name="{role}"')
    return files


def _with_form(form):
    files = _fresh()
    files["fresh.bpmn"] = files["fresh.bpmn"].replace('value="simple.json"', f'value="{form}"')
    return files


def _with_timer(expression):
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition>'
            f'<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{expression}</bpmn:timeDuration>'
            '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
            + user_task("ask", "Ask", "simple.json") + '<bpmn:endEvent id="end"/>'
            + flow("f1", "start", "wait") + flow("f2", "wait", "ask") + flow("f3", "ask", "end"))
    return {"timed.bpmn": process("timed", {"applicant": ["start", "wait", "ask", "end"]}, body),
            "simple.json": SIMPLE_FORM}


BROKEN = '<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="x">\n<oops>\n</bpmn:definitions>\n'
INVALID = {
    # name: (bundle, file, element id, line expected?, words in the message)
    "malformed_xml": ({"broken.bpmn": BROKEN}, "broken.bpmn", None, 4, "well-formed"),
    "unknown_lane_role": (_with_lane("janitor"), "fresh.bpmn", "review", True, "janitor"),
    "missing_form": (_with_form("nowhere.json"), "fresh.bpmn", "ask", True, "nowhere.json"),
    "unquoted_timer": (_with_timer("P30D"), "timed.bpmn", "wait", True, "quote"),
    "bad_timer_value": (_with_timer('"P3X"'), "timed.bpmn", "wait", True, "ISO 8601"),
    "sandbox_violation": (_fresh(script="import os"), "fresh.bpmn", "compute", True, "import"),
    "dunder_in_condition": (_fresh(script="result = ().__class__"), "fresh.bpmn", "compute", True, "__class__"),
    "unresolvable_call_activity": ({"parent.bpmn": called_bundle(called="nowhere")["parent.bpmn"]}, "parent.bpmn",
                                   "call_child", True, "nowhere"),
    "invalid_json_schema": ({**_fresh(), "simple.json": '{"type": "object", "properties": {"a": {"type": 5}}}'},
                            "simple.json", None, None, "JSON Schema"),
}


@pytest.mark.parametrize("kind", list(INVALID))
def test_invalid_bundles_are_refused_with_the_element_named(api, kind):
    files, file_name, element, line, words = INVALID[kind]
    before = definitions(api)
    r = deploy(api, files)
    body = assert_problem(r, 422)
    assert body["valid"] is False and body["errors"], body
    matching = [e for e in body["errors"] if e.get("file") == file_name and e.get("element_id") == element]
    assert matching, body["errors"]
    assert any(words in e["message"] for e in matching), matching
    if line is True:
        assert all(isinstance(e.get("line"), int) for e in matching)
    elif line:
        assert matching[0]["line"] == line
    assert definitions(api) == before  # nothing was deployed
    report = api.client("coordinator").post("/api/process-definitions/validate", **multipart(files, None))
    assert report.status_code == 200
    assert report.get_json()["valid"] is False and report.get_json()["errors"] == body["errors"]


def test_validate_reports_what_would_be_deployed_and_deploys_nothing(api):
    r = api.client("applicant_a").post("/api/process-definitions/validate",
                                       json={"files": {"two_step.bpmn": two_step_v2()["two_step.bpmn"]}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["valid"] and body["errors"] == []
    assert any("archive" == w.get("element_id") for w in body["warnings"])  # a user task without a form
    assert [(d["key"], d["version"], d["created"]) for d in body["deploy"]] == [("two_step", 2, True)]
    assert definitions(api)["two_step"]["latest_version"] == 1


def test_validate_warns_of_an_unknown_property_with_the_near_miss(api):
    """A misspelt property is a warning naming the element, the property and what was meant (it still deploys)."""
    bpmn = two_step_v2()["two_step.bpmn"].replace('name="formJsonSchemaFilename"', 'name="formJsonSchemaFilename"'
                                                  ' value="simple.json"/><spiffworkflow:property name="showform"', 1)
    r = api.client("coordinator").post("/api/process-definitions/validate", json={"files": {"two_step.bpmn": bpmn}})
    assert r.status_code == 200, r.get_json()
    [warning] = [w for w in r.get_json()["warnings"] if "showform" in w["message"]]
    assert "did you mean showForms?" in warning["message"] and warning["element_id"] and warning["line"]


def test_the_vocabulary_is_served_for_the_studio(api):
    """The roles and the declared properties, as the validation checks them, for every signed-in user."""
    from engine.vocabulary import PROPERTIES, ROLES

    r = api.client("applicant_a").get("/api/process-definitions/vocabulary")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["roles"] == list(ROLES) and "quality_manager" not in body["lane_roles"]
    by_name = {p["name"]: p for p in body["properties"]}
    assert set(by_name) == set(PROPERTIES)
    assert by_name["calledOnly"]["elements"] == ["startEvent"] and by_name["calledOnly"]["format"] == "boolean"
    assert by_name["signatureMeaning"]["choices"] == ["approval", "review", "authorship"]
    assert api.app.test_client().get("/api/process-definitions/vocabulary").status_code == 401


def test_bad_uploads_and_a_missing_note(api):
    qm = api.client(QM)
    assert_problem(qm.post("/api/process-definitions", json={"files": "nope"}), 422)
    r = assert_problem(qm.post("/api/process-definitions", **multipart({"readme.txt": "hi"})), 422)
    assert r["errors"][0]["field"] == "/files/0"
    r = assert_problem(qm.post("/api/process-definitions", **multipart(two_step_v2(), note=None)), 422)
    assert r["errors"] == [{"field": "/note", "message": "is required"}]
    plain = qm.post("/api/process-definitions", data="x", content_type="text/plain")
    assert plain.status_code in (415, 422) and plain.mimetype == "application/problem+json"
    assert definitions(api)["two_step"]["latest_version"] == 1


# -- migration ---------------------------------------------------------------------------------------------

def _case_events(api, case_id):
    return [e["action"] for e in api.client("auditor").get(f"/api/cases/{case_id}/history").get_json()]


def test_migrate_a_case_dry_run_first_then_for_real(api):
    case = api.start()
    deploy(api, two_step_v2())
    qm = api.client(QM)
    dry = qm.post(f"/api/cases/{case['id']}/migrate", json={"dry_run": True})
    assert dry.status_code == 200, dry.get_json()
    report = dry.get_json()
    assert report["can_migrate"] and not report["migrated"] and (report["from_version"], report["to_version"]) == (1, 2)
    assert [(a["element_id"], a["ahead"]) for a in report["added_tasks"]] == [("archive", True)]
    assert api.client("coordinator").get(f"/api/cases/{case['id']}").get_json()["definition_version"] == 1
    assert "case.migrated" not in _case_events(api, case["id"])

    real = qm.post(f"/api/cases/{case['id']}/migrate", json={})
    assert real.status_code == 200 and real.get_json()["migrated"]
    assert api.client("coordinator").get(f"/api/cases/{case['id']}").get_json()["definition_version"] == 2
    assert "case.migrated" in _case_events(api, case["id"])
    answer(api, case["id"], "ask", "applicant_a", {"answer": "yes"})
    answer(api, case["id"], "review", "coordinator")
    answer(api, case["id"], "archive", "coordinator")
    assert api.client("coordinator").get(f"/api/cases/{case['id']}").get_json()["status"] == "completed"
    assert_problem(qm.post(f"/api/cases/{case['id']}/migrate", json={"to_version": 1}), 409)
    assert_problem(qm.post("/api/cases/no-such-case/migrate", json={}), 404)
    assert_problem(qm.post(f"/api/cases/{case['id']}/migrate", json={"to_version": 0}), 422)


def test_a_case_that_cannot_move_is_listed_with_the_reason_and_left_untouched(api):
    at_ask = api.start()
    at_review = api.start()
    answer(api, at_review["id"], "ask", "applicant_a", {"answer": "yes"})
    assert deploy(api, two_step_without_review()).status_code == 201
    qm = api.client(QM)
    before = api.client("auditor").get(f"/api/cases/{at_review['id']}/history").get_json()

    refused = assert_problem(qm.post(f"/api/cases/{at_review['id']}/migrate", json={}), 409)
    assert any("(review)" in r for r in refused["reasons"]) and refused["migration"]["migrated"] is False

    dry = qm.post("/api/process-definitions/two_step/versions/1/migrate", json={"dry_run": True}).get_json()
    assert (dry["total"], dry["can_migrate"], dry["migrated"], dry["blocked"]) == (2, 1, 0, 1)
    bulk = qm.post("/api/process-definitions/two_step/versions/1/migrate", json={"to_version": 2})
    assert bulk.status_code == 200
    result = {c["case_id"]: c for c in bulk.get_json()["cases"]}
    assert result[at_ask["id"]]["migrated"] and not result[at_review["id"]]["migrated"]
    assert result[at_review["id"]]["reasons"] and result[at_review["id"]]["removed_tasks"]
    assert api.client("auditor").get(f"/api/cases/{at_review['id']}/history").get_json() == before
    counts = {v["version"]: v["open_cases"] for v in definitions(api)["two_step"]["versions"]}
    assert counts == {1: 1, 2: 1}


# -- who may do what ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_only_a_quality_manager_deploys_and_migrates_and_everyone_reads(api, role):
    case = api.start()
    client = api.client(role)
    allowed = role == QM
    r = deploy(api, two_step_v2(), who=role)
    assert r.status_code == (201 if allowed else 403), r.get_json()
    m = client.post(f"/api/cases/{case['id']}/migrate", json={"dry_run": True})
    assert m.status_code == (200 if allowed else 403)
    b = client.post("/api/process-definitions/two_step/versions/1/migrate", json={"dry_run": True})
    assert b.status_code == (200 if allowed else 403)
    for path in ("/api/process-definitions", "/api/process-definitions/two_step",
                 "/api/process-definitions/two_step/versions/1",
                 "/api/process-definitions/two_step/versions/1/files/simple.json",
                 "/api/process-definitions/two_step/diff?from=1&to=1"):
        assert client.get(path).status_code == 200, path
    assert client.post("/api/process-definitions/validate", **multipart(two_step_v2(), None)).status_code == 200


def test_anonymous_callers_get_401(api):
    anonymous = api.client()
    for path in ("/api/process-definitions", "/api/process-definitions/two_step/versions/1"):
        assert_problem(anonymous.get(path), 401)
    assert_problem(anonymous.post("/api/process-definitions", **multipart(two_step_v2())), 401)


def test_a_restart_keeps_what_a_quality_manager_deployed(make_api):
    api = make_api("shipped", DEPLOY_SHIPPED=True)
    text = (PROCESSES / "membership.bpmn").read_text().replace('name="Become a Member"', 'name="Membership"', 1)
    assert deploy(api, {"membership.bpmn": text}).status_code == 201
    directory = Path(api.app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent
    restarted = Api(make_app(app_config(directory, DEPLOY_SHIPPED=True)))  # start-up deploys the shipped library
    try:
        entry = definitions(restarted)["membership"]
        assert entry["latest_version"] == 2 and entry["versions"][1]["deployed_by"] == "quinn"
    finally:
        restarted.services.db.dispose()


# -- a diagram saved by bpmn.io ----------------------------------------------------------------------------

BPMN_JS = Path(os.environ.get("ACCREDIT_BPMN_JS", Path(__file__).resolve().parent.parent / "browser" / "node_modules"
                              / "bpmn-js" / "dist"))
CHROMIUM = Path(os.environ.get("ACCREDIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _bpmn_io_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; Chromium is used from ACCREDIT_CHROMIUM)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (set ACCREDIT_CHROMIUM)"
    if not (BPMN_JS / "bpmn-modeler.production.min.js").exists():
        return f"bpmn-js is not installed at {BPMN_JS} (npm install bpmn-js; set ACCREDIT_BPMN_JS)"
    return None


def save_with_bpmn_io(xml: str, rename: dict[str, str]) -> str:
    """Open ``xml`` in the bpmn-js Modeler in headless Chromium, rename elements as a person would (the
    modeling API), and return ``saveXML({format: true})``."""
    from playwright.sync_api import sync_playwright

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(BPMN_JS)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{base}/assets/diagram-js.css")  # an http origin for the page
                page.set_content('<html><body><div id="canvas" style="width:1400px;height:900px"></div>'
                                 f'<script src="{base}/bpmn-modeler.production.min.js"></script></body></html>')
                page.wait_for_function("typeof BpmnJS !== 'undefined'")
                return page.evaluate("""async ([xml, rename]) => {
                    const modeler = new BpmnJS({container: '#canvas'});
                    const {warnings} = await modeler.importXML(xml);
                    if (warnings.length) throw new Error('import warnings: ' + warnings.map(w => w.message).join('; '));
                    const registry = modeler.get('elementRegistry'), modeling = modeler.get('modeling');
                    for (const [id, name] of Object.entries(rename)) modeling.updateLabel(registry.get(id), name);
                    return (await modeler.saveXML({format: true})).xml;
                }""", [xml, rename])
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()


def test_a_diagram_saved_by_bpmn_io_deploys_with_its_diagram_and_extensions(api):
    missing = _bpmn_io_missing()
    if missing:
        pytest.skip(f"bpmn.io round trip needs a browser: {missing}")
    original = (PROCESSES / "membership.bpmn").read_text()
    saved = save_with_bpmn_io(original, {"membership_review": "Review the membership application"})
    assert saved != original and "Review the membership application" in saved

    forms = {n: (FORMS / n).read_text() for n in ("membership_application.json", "membership_review.json",
                                                  "record_dues.json")}
    r = deploy(api, {"membership.bpmn": saved, **forms}, note="edited in bpmn.io")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["errors"] == []
    [d] = r.get_json()["deploy"]
    stored = api.client("auditor").get(f"/api/process-definitions/membership/versions/{d['version']}/files/"
                                       "membership.bpmn").get_data(as_text=True)
    assert stored == saved
    for marker in ("bpmndi:BPMNDiagram", "bpmndi:BPMNShape", "bpmndi:BPMNEdge", "dc:Bounds", "di:waypoint"):
        assert stored.count(marker) == original.count(marker) > 0, marker
    for marker in ("spiffworkflow:property", 'name="formJsonSchemaFilename"', "bpmn:lane "):
        assert stored.count(marker) == original.count(marker) > 0, marker

    detail = api.client("auditor").get(f"/api/process-definitions/membership/versions/{d['version']}").get_json()
    tasks = {t["element_id"]: t for t in detail["user_tasks"]}
    assert tasks["membership_review"]["name"] == "Review the membership application"
    assert tasks["membership_review"]["form"] == "membership_review.json"  # the extension property survived
    assert tasks["membership_review"]["lane"] == "coordinator"
    case = api.start("applicant_a", "membership")
    [task] = case["tasks"]
    assert task["form"] == "membership_application.json"


def test_a_small_edit_to_the_largest_shipped_version_deploys_as_the_studio_sends_it(make_api):
    """The studio sends a whole version (every file, as JSON). The largest shipped versions (renewal and
    accreditation with their called phase processes, DMN tables and forms) are ~200 kB: a quality manager's
    small edit deploys under the test apps' limit, and both limits leave the library room to grow."""
    from engine.cases.workspace import DEFAULT_MAX_UPLOAD

    from .conftest import MAX_UPLOAD

    api = make_api("shipped", DEPLOY_SHIPPED=True)
    qm = api.client(QM)
    sizes = {}
    for key, entry in definitions(api).items():
        detail = qm.get(f"/api/process-definitions/{key}/versions/{entry['latest_version']}").get_json()
        files = {f["name"]: qm.get(f"/api/process-definitions/{key}/versions/{entry['latest_version']}/files/"
                                   f"{f['name']}").get_data(as_text=True) for f in detail["files"]}
        sizes[key] = (sum(len(t.encode()) for t in files.values()), files)
    key = max(sizes, key=lambda k: sizes[k][0])
    size, files = sizes[key]
    assert size > 150_000, (key, size)  # the split library: the top level carries its phase processes
    assert size * 4 < MAX_UPLOAD <= DEFAULT_MAX_UPLOAD, (key, size)

    # the edit: a paragraph of documentation on the process (what a quality manager writes in the panel)
    main = f"{key}.bpmn"
    paragraph = "Renewal applications are reviewed by the coordinator on duty. " * 60
    edited = files[main].replace("</bpmn:definitions>", f"<!-- {paragraph} --></bpmn:definitions>", 1)
    assert len(edited) > len(files[main]) + 3_000
    r = qm.post("/api/process-definitions", json={"files": {**files, main: edited}, "note": "a paragraph more"})
    assert r.status_code == 201, r.get_json()
    assert definitions(api)[key]["latest_version"] == 2
