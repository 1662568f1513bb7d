"""Bad requests get problem documents naming what is wrong — never an HTML page or a stack trace —
and uploads are checked for size and type; files come back byte for byte, as attachments."""
from __future__ import annotations

import hashlib
import io
import uuid

import pytest

from .conftest import MAX_UPLOAD, PDF, assert_problem, fields_of


@pytest.fixture
def case(api):
    return api.start("applicant_a")


def upload(client, case_id, content: bytes, filename="doc.pdf", content_type="application/pdf"):
    return client.post(f"/api/cases/{case_id}/attachments", data={"file": (io.BytesIO(content), filename, content_type)},
                       content_type="multipart/form-data")


def test_invalid_json_body_is_400(api, case):
    alice = api.client("applicant_a")
    for url in ("/api/cases", f"/api/tasks/{case['tasks'][0]['id']}/complete"):
        r = alice.post(url, data='{"process": "two_step",', content_type="application/json")
        body = assert_problem(r, 400)
        assert body["errors"][0]["message"] == "Invalid JSON body."


def test_unknown_field_is_422_naming_it(api, case):
    alice = api.client("applicant_a")
    body = assert_problem(alice.post("/api/cases", json={"process": "two_step", "colour": "red"}), 422)
    assert fields_of(body) == {"/colour"} and "/colour" in body["detail"]
    body = assert_problem(alice.post(f"/api/tasks/{case['tasks'][0]['id']}/complete",
                                     json={"data": {"answer": "yes"}, "signature": "x"}), 422)
    assert fields_of(body) == {"/signature"}
    assert alice.get(f"/api/tasks/{case['tasks'][0]['id']}").get_json()["status"] == "ready"


def test_missing_and_mistyped_fields_are_422(api):
    alice = api.client("applicant_a")
    assert fields_of(assert_problem(alice.post("/api/cases", json={}), 422)) == {"/process"}
    assert fields_of(assert_problem(alice.post("/api/cases", json={"process": 7}), 422)) == {"/process"}
    assert fields_of(assert_problem(alice.post("/api/cases", json={"process": "two_step", "data": []}), 422)) \
        == {"/data"}
    body = assert_problem(alice.post("/api/cases", json={"process": "two_step", "data": {"case_id": "mine"}}), 422)
    assert fields_of(body) == {"/case_id"}  # engine variables cannot be set from outside
    assert_problem(alice.post("/api/cases", json={"process": "no_such_process"}), 404)


@pytest.mark.parametrize("url,field", [
    ("/api/tasks?per_page=abc", "/per_page"),
    ("/api/tasks?per_page=0", "/per_page"),
    ("/api/tasks?per_page=201", "/per_page"),
    ("/api/tasks?page=0", "/page"),
    ("/api/tasks?scope=everything", "/scope"),
    ("/api/tasks?sort=name", "/sort"),
    ("/api/tasks?overdue=perhaps", "/overdue"),
    ("/api/tasks?role=janitor", "/role"),
    ("/api/cases?status=paused", "/status"),
    ("/api/cases?page=x", "/page"),
])
def test_bad_query_parameters_are_422(api, url, field):
    body = assert_problem(api.client("coordinator").get(url), 422)
    assert fields_of(body) == {field}


def test_real_pdf_round_trip(api, case):
    alice = api.client("applicant_a")
    r = upload(alice, case["id"], PDF, filename="../../etc/SOP v2.pdf")
    assert r.status_code == 201
    meta = r.get_json()
    assert meta["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (meta["filename"], meta["size"], meta["content_type"], meta["uploaded_by"]) == \
           ("SOP v2.pdf", len(PDF), "application/pdf", "alice")
    listed = api.client("coordinator").get(f"/api/cases/{case['id']}/attachments").get_json()
    assert [a["sha256"] for a in listed] == [meta["sha256"]]

    down = api.client("coordinator").get(f"/api/cases/{case['id']}/attachments/{meta['sha256']}")
    assert down.status_code == 200
    assert down.data == PDF
    assert down.mimetype == "application/pdf"
    assert down.headers["Content-Disposition"].startswith("attachment;")
    assert "SOP" in down.headers["Content-Disposition"]
    assert down.headers["X-Content-Type-Options"] == "nosniff"
    history = alice.get(f"/api/cases/{case['id']}/history").get_json()
    assert [e["data"]["sha256"] for e in history if e["action"] == "attachment.uploaded"] == [meta["sha256"]]


def test_upload_just_over_the_limit_is_413_naming_the_limit(api, case):
    body = assert_problem(upload(api.client("applicant_a"), case["id"], PDF + b"0" * MAX_UPLOAD), 413)
    assert fields_of(body) == {"/file"} and body["limit"] == MAX_UPLOAD


def test_upload_far_over_the_limit_is_413_problem(api, case):
    r = upload(api.client("applicant_a"), case["id"], PDF + b"0" * (MAX_UPLOAD + 200_000))
    assert_problem(r, 413)
    assert b"<html" not in r.data.lower()
    assert api.client("applicant_a").get(f"/api/cases/{case['id']}/attachments").get_json() == []


def test_upload_as_json_is_422_naming_file(api, case):
    r = api.client("applicant_a").post(f"/api/cases/{case['id']}/attachments", json={"file": "JVBERi0xLjQ="})
    assert fields_of(assert_problem(r, 422)) == {"/file"}
    r = api.client("applicant_a").post(f"/api/cases/{case['id']}/attachments", data={"other": "x"},
                                       content_type="multipart/form-data")
    assert fields_of(assert_problem(r, 422)) == {"/file"}


@pytest.mark.parametrize("content,filename,content_type", [
    (b"MZ\x90\x00 not allowed", "tool.exe", "application/x-msdownload"),
    (b"<script>alert(1)</script>", "page.html", "text/html"),
    (b"MZ\x90\x00 pretending", "fake.pdf", "application/pdf"),  # the content does not match its type
    (PDF, "", "application/pdf"),  # no file name
])
def test_disallowed_files_are_422(api, case, content, filename, content_type):
    r = upload(api.client("applicant_a"), case["id"], content, filename, content_type)
    assert fields_of(assert_problem(r, 422)) == {"/file"}
    assert api.client("applicant_a").get(f"/api/cases/{case['id']}/attachments").get_json() == []


def test_upload_to_an_ended_case_is_409(api, case):
    alice = api.client("applicant_a")
    alice.post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": "no"}})
    assert_problem(upload(alice, case["id"], PDF), 409)


def test_unknown_ids_are_404_problems(api, case):
    carol = api.client("coordinator")
    missing = str(uuid.uuid4())
    for url in (f"/api/cases/{missing}", f"/api/cases/{missing}/history", f"/api/tasks/{missing}",
                f"/api/cases/{case['id']}/attachments/{'0' * 64}", "/api/no-such-endpoint"):
        assert_problem(carol.get(url), 404)
    for url in (f"/api/tasks/{missing}/claim", f"/api/tasks/{missing}/complete"):
        assert_problem(carol.post(url, json={"data": {}} if url.endswith("complete") else None), 404)


@pytest.mark.parametrize("method,url", [("put", "/api/cases"), ("delete", "/api/tasks"), ("put", "/api/tokens"),
                                        ("patch", "/api/me")])
def test_wrong_method_is_405_problem(api, method, url):
    r = getattr(api.client("coordinator"), method)(url)
    assert_problem(r, 405)
    assert r.headers["Allow"]
    assert method.upper() not in r.headers["Allow"]


def test_body_that_is_not_json_is_415(api):
    r = api.client("applicant_a").post("/api/cases", data="process=two_step",
                                        content_type="application/x-www-form-urlencoded")
    body = assert_problem(r, 415)
    assert "application/json" in body["detail"]


def test_numbers_beyond_64_bits_are_a_4xx_wherever_they_come(api):
    """Found by the OpenAPI fuzzer: a huge version in a path reached SQLite and overflowed (500)."""
    client = api.client("quality_manager")
    huge = 10 ** 30
    assert_problem(client.get(f"/api/process-definitions/two_step/versions/{huge}"), 404)
    assert_problem(client.delete(f"/api/tokens/{huge}"), 404)
    body = assert_problem(api.client("coordinator").get(f"/api/tasks?page={huge}"), 422)
    assert any("page" in f for f in fields_of(body))
    body = assert_problem(api.client("coordinator").get("/api/tasks?page=2000000"), 422)


def _nested(levels: int) -> dict:
    """A body of ``levels`` nested objects: {"data": {"a": {"a": … "leaf"}}}."""
    value: object = "leaf"
    for _ in range(levels - 1):
        value = {"a": value}
    return {"data": value}


def test_a_json_body_nested_too_deep_is_a_400_naming_where_never_a_500(api, case):
    alice = api.client("applicant_a")
    task_url = f"/api/tasks/{case['tasks'][0]['id']}/complete"
    # so deep that the JSON decoder itself gives up (a RecursionError, a 500 before)
    for url in ("/api/cases", task_url, "/api/process-definitions"):
        r = alice.post(url, data='{"data":' + "[" * 100_000 + "]" * 100_000 + "}", content_type="application/json")
        body = assert_problem(r, 400)
        assert "nested deeper than 64 levels" in body["detail"] and fields_of(body) == {"/"}
    # decodable, one level too deep: the problem says where
    body = assert_problem(alice.post(task_url, json=_nested(65)), 400)
    assert body["detail"].endswith("(at /data" + "/a" * 63 + ")")
    assert fields_of(body) == {"/data" + "/a" * 63}
    # at the limit, the body goes on to the task's own checks (a form error, not a depth error)
    body = assert_problem(alice.post(task_url, json=_nested(64)), 422)
    assert "nested deeper" not in body["detail"]
    assert alice.get(f"/api/tasks/{case['tasks'][0]['id']}").get_json()["status"] == "ready"
    # an anonymous caller still gets a 401 first, and a body that is not JSON the parser's own 400
    assert_problem(api.app.test_client().post(task_url, data="[" * 100_000, content_type="application/json"), 401)
    assert assert_problem(alice.post(task_url, data="[" * 10, content_type="application/json"), 400)["errors"][0][
        "message"] == "Invalid JSON body."


def test_a_message_payload_shaped_like_the_serializers_typed_values_is_kept_as_sent_and_the_case_stays_usable(api):
    """A laboratory's message payload (or a form, a script) with a ``typename`` key was read back by the state's
    serializer as an object of that name — or made the case fail to load: every request on it a 500."""
    alice = api.client("applicant_a")
    case = api.start("applicant_a", "parent")
    r = alice.post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": "no"}})
    assert r.status_code == 200 and r.get_json()["tasks"] == []  # waits for child_done
    payload = {"unknown": {"typename": "nope"}, "internal": {"typename": "BpmnWorkflow"},
               "malformed": {"typename": "date", "value": "31/02"}, "dated": {"typename": "date", "value": "2020-01-02"}}
    r = alice.post("/api/messages/child_done", json={"organisation_id": "lab-a", "payload": payload})
    assert r.status_code == 202, r.get_json()
    r = api.client("coordinator").get(f"/api/cases/{case['id']}")
    assert r.status_code == 200, r.get_json()  # before: 500 on every load of the case
    assert r.get_json()["data"]["reply"] == payload


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_a_number_json_cannot_hold_is_a_400_naming_where_never_a_500(api, token):
    """Python's JSON decoder accepts NaN and Infinity (and turns 1e999 into infinity); PostgreSQL's JSON columns
    refuse them at commit (a 500 before: a laboratory's message payload reached the history that way) and a
    browser cannot parse them back. Refused where bodies enter, naming the field."""
    alice = api.client("applicant_a")
    case = api.start("applicant_a", "parent")
    r = alice.post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": "no"}})
    assert r.status_code == 200
    r = alice.post("/api/messages/child_done", data='{"organisation_id": "lab-a", "payload": {"x": [1.5, %s]}}' % token,
                   content_type="application/json")
    body = assert_problem(r, 400)
    assert fields_of(body) == {"/payload/x/1"} and "not a JSON number" in body["detail"], body
    r = alice.post("/api/messages/child_done", json={"organisation_id": "lab-a", "payload": {"x": [1.5, 1e308]}})
    assert r.status_code == 202, r.get_json()  # large finite numbers are numbers


def test_a_nul_character_anywhere_in_a_request_is_a_400_naming_where_never_a_500(api, case):
    """PostgreSQL's text columns cannot hold a NUL character: the driver refuses the statement (a 500 before, for
    a business key, a comment, a name, a task id in the path…). Refused where requests enter, naming the field."""
    alice = api.client("applicant_a")
    body = assert_problem(alice.post("/api/cases", json={"process": "two_step", "business_key": "LAB\u0000-1"}), 400)
    assert fields_of(body) == {"/business_key"} and "NUL character" in body["detail"], body
    body = assert_problem(alice.post(f"/api/tasks/{case['tasks'][0]['id']}/complete",
                                     json={"data": {"answer": "yes", "x\u0000": 1}}), 400)
    assert fields_of(body) == {"/data/x\\0"}, body
    body = assert_problem(alice.post(f"/api/cases/{case['id']}/comments", json={"body": ["ok", "bad\u0000"]}), 400)
    assert fields_of(body) == {"/body/1"}, body
    body = assert_problem(alice.get("/api/tasks?role=a%00b"), 400)
    assert fields_of(body) == {"/role"}, body
    assert_problem(alice.get("/api/tasks/abc%00def"), 400)
    r = upload(alice, case["id"], PDF, filename="report\u0000.pdf")
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert alice.get(f"/api/cases/{case['id']}").status_code == 200
    assert api.client().get("/api/tasks/abc%00def").status_code == 401  # anonymous: 401 first


def test_a_multipart_part_without_a_name_is_no_500(api):
    """Found by the OpenAPI fuzzer: a part with no ``name`` comes out of the form parser with the name None."""
    qm = api.client("quality_manager")
    raw = (b"--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n"
           b"--b\r\nContent-Disposition: form-data; filename=\"x.bpmn\"\r\n\r\n<xml/>\r\n--b--\r\n")
    for url in ("/api/process-definitions", "/api/process-definitions/validate"):
        r = qm.post(url, data=raw, content_type="multipart/form-data; boundary=b")
        assert 400 <= r.status_code < 500, (url, r.status_code, r.get_data(as_text=True)[:300])


def test_an_upload_whose_file_name_the_database_cannot_hold_is_a_422_naming_the_file(api, case):
    alice = api.client("applicant_a")
    body = assert_problem(upload(alice, case["id"], PDF, filename="r" * 397 + ".pdf"), 422)
    assert fields_of(body) == {"/file"} and "at most 400" in body["detail"], body
    assert upload(alice, case["id"], PDF, filename="r" * 396 + ".pdf").status_code == 201
