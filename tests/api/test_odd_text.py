"""Odd text, numbers, dates and file names at the door (found by fuzzing): each was a 500 — a codec that is not a
text encoding named in an XML declaration, an archive sent as text, an integer too long for Python to read, a
lone surrogate no database can store, a date whose UTC time is outside Python's range, a file name with a line
break that no download header can carry. Each is now a 4xx problem naming the field, file or argument."""
from __future__ import annotations

import io

import pytest

from .conftest import PDF, assert_problem, fields_of
from .test_definitions_api import multipart
from .test_odd_uploads import DEPLOY, QM, TWO, VALIDATE

# -- 1. an XML declaration naming a codec that is not a text encoding -------------------------------------------

NOT_TEXT = ["rot13", "base64", "hex", "zlib", "bz2", "uu", "quopri", "punycode", "undefined", "idna",
            "unicode_escape", "raw_unicode_escape"]


@pytest.mark.parametrize("codec", NOT_TEXT)
@pytest.mark.parametrize("path", [VALIDATE, DEPLOY])
def test_a_declared_codec_that_is_not_a_text_encoding_is_a_422_naming_the_file(api, path, codec):
    data = f'<?xml version="1.0" encoding="{codec}"?>\n<a/>'.encode()
    problem = assert_problem(api.client(QM).post(path, **multipart({"odd.bpmn": data})), 422)
    assert [e["field"] for e in problem["errors"]] == ["/files/0"], problem
    assert "'odd.bpmn'" in problem["errors"][0]["message"] and codec in problem["errors"][0]["message"], problem


def test_a_text_encoding_that_decodes_to_a_lone_surrogate_is_a_422_naming_the_file(api):
    data = TWO.replace('encoding="UTF-8"', 'encoding="UTF-7"').replace('name="Compute"', 'name="+2AA-"').encode()
    problem = assert_problem(api.client(QM).post(VALIDATE, **multipart({"utf7.bpmn": data})), 422)
    assert [e["field"] for e in problem["errors"]] == ["/files/0"], problem
    assert "'utf7.bpmn' holds a character that is not valid Unicode text" in problem["errors"][0]["message"]


def test_a_real_text_encoding_other_than_utf8_still_deploys(api):
    data = TWO.replace('encoding="UTF-8"', 'encoding="cp1252"').replace("Compute", "Prüfen").encode("cp1252")
    r = api.client(QM).post(VALIDATE, **multipart({"two_step.bpmn": data}))
    assert r.status_code == 200, r.get_json()


# -- 2. what the JSON form of a bundle may hold -------------------------------------------------------------------

@pytest.mark.parametrize("path", [VALIDATE, DEPLOY])
@pytest.mark.parametrize("files, field, words", [
    ({"a.zip": "hello"}, "/files/a.zip", "'a.zip' is an archive"),
    ({"b.BPMN.ZIP": ""}, "/files/b.BPMN.ZIP", "'b.BPMN.ZIP' is an archive"),
    ({"a.bpmn": 7}, "/files/a.bpmn", "must be the file's text"),
    ({"a.bpmn": None}, "/files/a.bpmn", "must be the file's text"),
    ({"a.bpmn": ["x"]}, "/files/a.bpmn", "must be the file's text"),
])
def test_the_json_form_of_a_bundle_holds_text_only_and_no_archive(api, path, files, field, words):
    problem = assert_problem(api.client(QM).post(path, json={"files": files, "note": "n"}), 422)
    assert fields_of(problem) == {field}, problem
    assert any(words in e["message"] for e in problem["errors"]), problem


# -- 3. integers too long for Python to read, in any JSON body ------------------------------------------------------

def test_an_integer_too_long_to_read_is_a_400_naming_where_even_before_signing_in(api):
    huge = "9" * 5000
    r = api.client().post("/api/session", data='{"username": "alice", "password": %s}' % huge,
                          content_type="application/json")
    body = assert_problem(r, 400)
    assert fields_of(body) == {"/password"} and "5,000 digits" in body["detail"], body
    alice = api.client("applicant_a")
    body = assert_problem(alice.post("/api/cases", data='{"process": "two_step", "data": {"n": [1, -%s]}}' % huge,
                                     content_type="application/json"), 400)
    assert fields_of(body) == {"/data/n/1"}, body
    # as long as Python reads, a number is a number: the body goes on to its own checks
    r = alice.post("/api/cases", data='{"process": "two_step", "business_key": %s}' % ("9" * 4300),
                   content_type="application/json")
    assert r.status_code == 422 and fields_of(r.get_json()) == {"/business_key"}, r.get_json()


# -- 4. lone surrogates, in any JSON string or key --------------------------------------------------------------

@pytest.mark.parametrize("escape", ["\\ud800", "\\udc00", "\\udfff"])
def test_a_lone_surrogate_in_a_json_string_or_key_is_a_400_naming_where(api, escape):
    alice = api.client("applicant_a")
    case = api.start("applicant_a")
    sent = [
        ("/api/cases", '{"process": "two_step", "business_key": "%sx"}' % escape, "/business_key"),
        (f"/api/cases/{case['id']}/comments", '{"body": "%s"}' % escape, "/body"),
        (f"/api/tasks/{case['tasks'][0]['id']}/complete", '{"data": {"answer": "yes", "k%s": 1}}' % escape,
         "/data/k" + escape),
        ("/api/session", '{"username": "a%s", "password": "p"}' % escape, "/username"),
    ]
    for url, raw, field in sent:
        client = api.client() if url == "/api/session" else alice
        body = assert_problem(client.post(url, data=raw, content_type="application/json"), 400)
        assert fields_of(body) == {field} and "lone surrogate" in body["detail"], (url, body)
    # a surrogate pair is one real character, and welcome
    r = alice.post(f"/api/cases/{case['id']}/comments", data='{"body": "\\ud83d\\ude00"}',
                   content_type="application/json")
    assert r.status_code == 201 and r.get_json()["body"] == "\U0001F600", r.get_json()
    assert alice.get(f"/api/cases/{case['id']}").status_code == 200


def test_a_lone_surrogate_in_a_studio_file_is_a_400_naming_the_file(api):
    body = assert_problem(api.client(QM).post(VALIDATE, data='{"files": {"odd.bpmn": "\\ud800"}}',
                                              content_type="application/json"), 400)
    assert fields_of(body) == {"/files/odd.bpmn"}, body


@pytest.mark.parametrize("path", [VALIDATE, DEPLOY])
def test_a_lone_surrogate_escaped_in_a_form_file_is_a_422_naming_the_file(api, path):
    """A form's JSON is text with escapes: "\\udc00" in a title or a default would reach pages and case data."""
    from ..engine.bpmn_builder import SIMPLE_FORM

    odd = SIMPLE_FORM.replace('"type": "object"', '"type": "object", "title": "a\\udc00"', 1)
    assert odd != SIMPLE_FORM
    problem = assert_problem(api.client(QM).post(path, **multipart({"two_step.bpmn": TWO, "simple.json": odd})), 422)
    assert [e["field"] for e in problem["errors"]] == ["/files/1"], problem
    assert "'simple.json' holds a lone surrogate (\\udc00)" in problem["errors"][0]["message"], problem
    # a surrogate pair is one character, and an escaped backslash before "u" is no escape at all
    fine = SIMPLE_FORM.replace('"type": "object"', '"type": "object", "title": "\\ud83d\\ude00 \\\\ud800"', 1)
    r = api.client(QM).post(VALIDATE, **multipart({"two_step.bpmn": TWO, "simple.json": fine}))
    assert r.status_code == 200 and r.get_json()["valid"], r.get_json()


def test_a_query_that_is_not_utf8_is_a_400_never_a_500(api):
    client = api.client("coordinator")
    r = client.get("/api/tasks", environ_overrides={"QUERY_STRING": "page=1&role=a\xffb"})  # a server's raw bytes
    body = assert_problem(r, 400)
    assert fields_of(body) == {"/role"} and "0xff" in body["detail"] and "UTF-8" in body["detail"], body


# -- 5. dates whose UTC time is outside Python's range ----------------------------------------------------------

EDGES = ["0001-01-01T00:00:00%2B14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00%2B00:01"]


@pytest.mark.parametrize("edge", EDGES)
@pytest.mark.parametrize("argument", ["since", "until"])
def test_a_date_beyond_the_utc_range_is_a_422_naming_the_argument(api, edge, argument):
    case = api.start("applicant_a")
    for who, url in [("coordinator", "/api/schedule"), ("coordinator", f"/api/cases/{case['id']}/history"),
                     ("auditor", f"/api/audit/cases/{case['id']}/timeline"),
                     ("admin", "/api/audit/system/timeline")]:
        body = assert_problem(api.client(who).get(f"{url}?{argument}={edge}"), 422)
        assert fields_of(body) == {f"/{argument}"} and "UTC" in body["detail"], (url, body)


@pytest.mark.parametrize("edge", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00-14:00",
                                  "9999-12-31T23:59:59%2B14:00"])
def test_the_first_and_last_utc_dates_are_answered(api, edge):
    case = api.start("applicant_a")
    for who, url in [("coordinator", "/api/schedule"), ("coordinator", f"/api/cases/{case['id']}/history"),
                     ("auditor", f"/api/audit/cases/{case['id']}/timeline"),
                     ("admin", "/api/audit/system/timeline")]:
        for argument in ("since", "until"):
            r = api.client(who).get(f"{url}?{argument}={edge}")
            assert r.status_code == 200, (url, argument, r.get_json())


def test_every_date_an_endpoint_reads_is_a_utc_date(api):
    """The class, not the four examples: every date and time argument of every route (query or body) is a
    :class:`api.fields.UtcDateTime`, whose UTC time is checked where it is read."""
    from marshmallow import fields as mf

    from api.fields import UtcDateTime

    def dates(schema, path=""):
        for name, field in schema.fields.items():
            inner = field.inner if isinstance(field, mf.List) else field
            if isinstance(inner, mf.Nested):
                yield from dates(inner.schema, f"{path}/{name}")
            elif isinstance(inner, (mf.DateTime, mf.Date, mf.Time)):
                yield f"{path}/{name}", inner

    seen, wrong = 0, []
    for endpoint, view in api.app.view_functions.items():
        for parameter in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            schema = parameter["schema"]
            schema = schema() if isinstance(schema, type) else schema
            for where, field in dates(schema):
                seen += 1
                if not isinstance(field, UtcDateTime):
                    wrong.append(f"{endpoint} {where}: {type(field).__name__}")
    assert seen >= 6 and wrong == [], (seen, wrong)


# -- 6. control characters in an attachment's file name ----------------------------------------------------------

def _raw_upload(client, case_id, disposition: bytes):
    raw = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; " + disposition +
           b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--B--\r\n")
    return client.post(f"/api/cases/{case_id}/attachments", data=raw, content_type="multipart/form-data; boundary=B")


@pytest.mark.parametrize("disposition", [b"filename*=UTF-8''a%0D%0Ab.txt", b"filename*=UTF-8''a%0Ab.txt",
                                         b"filename=\"a\tb.txt\"", b"filename*=UTF-8''a%7Fb.txt",
                                         b"filename*=UTF-8''a%1Bb.txt", b"filename*=UTF-8''a%C2%85b.txt",
                                         b"filename*=UTF-8''a%E2%80%A8b.txt",
                                         # a right-to-left override: "report\u202efdp.exe" reads "reportexe.pdf"
                                         b"filename*=UTF-8''report%E2%80%AEfdp.exe",
                                         b"filename*=UTF-8''a%E2%81%A6b.txt"])  # a left-to-right isolate
def test_a_file_name_with_a_control_character_is_a_422_naming_the_file(api, disposition):
    alice = api.client("applicant_a")
    case = api.start("applicant_a")
    body = assert_problem(_raw_upload(alice, case["id"], disposition), 422)
    assert fields_of(body) == {"/file"} and "control character" in body["detail"], body
    assert alice.get(f"/api/cases/{case['id']}/attachments").get_json() == []


def test_a_stored_file_name_with_a_control_character_downloads_under_a_safe_name(api):
    """Names stored before the upload refused them still download: the header carries no control character."""
    alice = api.client("applicant_a")
    case = api.start("applicant_a")
    r = alice.post(f"/api/cases/{case['id']}/attachments",
                   data={"file": (io.BytesIO(PDF), "report.pdf", "application/pdf")}, content_type="multipart/form-data")
    assert r.status_code == 201
    sha = r.get_json()["sha256"]
    import sqlalchemy as sa

    from engine.storage.models import Attachment

    with api.services.db.write() as s:
        s.execute(sa.update(Attachment).where(Attachment.sha256 == sha).values(filename="a\r\nb\t\x7fc\u2028\u202e.pdf"))
    for who in ("applicant_a", "coordinator"):
        down = api.client(who).get(f"/api/cases/{case['id']}/attachments/{sha}")
        assert down.status_code == 200, down.get_data(as_text=True)[:300]
        header = down.headers["Content-Disposition"]
        assert header.startswith("attachment;") and not any(c in header for c in "\r\n\t\x7f\u2028\u202e"), header
        assert header.endswith("filename=a__b__c__.pdf"), header
        assert down.data == PDF


@pytest.mark.parametrize("path", [VALIDATE, DEPLOY])
def test_a_process_file_name_with_a_control_character_is_a_422_naming_the_file(api, path):
    """A bundle's file names are stored and downloaded too (Content-Disposition): the same refusal."""
    import zipfile

    qm = api.client(QM)
    raw = (b"--B\r\nContent-Disposition: form-data; name=\"files\"; filename*=UTF-8''two%0D%0Astep.bpmn\r\n\r\n"
           + TWO.encode() + b"\r\n--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nn\r\n--B--\r\n")
    problem = assert_problem(qm.post(path, data=raw, content_type="multipart/form-data; boundary=B"), 422)
    assert fields_of(problem) == {"/files/0"} and "control character" in problem["errors"][0]["message"], problem
    assert "\r" not in problem["errors"][0]["message"] and "\\u000d" in problem["errors"][0]["message"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("two\tstep.bpmn", TWO)
    problem = assert_problem(qm.post(path, **multipart({"bundle.zip": archive.getvalue()})), 422)
    assert fields_of(problem) == {"/files/0/two\\u0009step.bpmn"}, problem
    problem = assert_problem(qm.post(path, json={"files": {"two\nstep.bpmn": TWO}, "note": "n"}), 422)
    assert fields_of(problem) == {"/files/two\\u000astep.bpmn"}, problem
