"""The audit trail over HTTP: history (paginated, filtered), the element view, verification, electronic
signatures with the password re-entered, auditors who read everything and write nothing, and exports
(CSV, JSON, PDF). Real app, real SQLite file, real requests through app.test_client()."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from ..engine.test_audit import signed_bundle, tamper
from .conftest import PASSWORD, PDF, assert_problem, fields_of

T0 = datetime(2027, 5, 3, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def sapi(api):
    api.services.engine.deploy(signed_bundle(), deployed_by="tests")
    return api


def complete(client, task_id, data, password=None, **signature):
    body = {"data": data}
    if password is not None:
        body["signature"] = {"password": password, **signature}
    return client.post(f"/api/tasks/{task_id}/complete", json=body)


def signed_case(api, business_key="SIG-CASE-1") -> dict:
    """The signed process run to its end over HTTP: authorship by alice, approval by cody."""
    case = api.start("applicant_a", "signed", business_key=business_key)
    r = complete(api.client("applicant_a"), case["tasks"][0]["id"], {"statement": "We comply."}, PASSWORD)
    assert r.status_code == 200, r.get_json()
    decide = api.task(case, "decide")
    r = complete(api.client("committee"), decide["id"], {"decision": "grant", "decision_reason": "All standards met."},
                 PASSWORD)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "completed"
    return case


# -- electronic signatures ------------------------------------------------------------------------------

def test_signature_task_needs_the_password(sapi):
    case = sapi.start("applicant_a", "signed")
    task = case["tasks"][0]
    assert task["signature_meaning"] == "authorship"
    alice = sapi.client("applicant_a")
    missing = assert_problem(complete(alice, task["id"], {"statement": "We comply."}), 422)
    assert fields_of(missing) == {"/signature/password"}
    empty = alice.post(f"/api/tasks/{task['id']}/complete", json={"data": {"statement": "x"}, "signature": {}})
    assert fields_of(assert_problem(empty, 422)) == {"/signature/password"}
    assert alice.get(f"/api/tasks/{task['id']}").get_json()["status"] == "ready"
    assert sapi.system_events("signature.failed") == []


def test_wrong_password_is_401_and_a_system_event(sapi):
    case = sapi.start("applicant_a", "signed")
    task_id = case["tasks"][0]["id"]
    body = assert_problem(complete(sapi.client("applicant_a"), task_id, {"statement": "x"}, "not-my-password"), 401)
    assert "signature was not applied" in body["detail"]
    [failed] = sapi.system_events("signature.failed")
    assert failed.actor == "alice"
    assert failed.data == {"case_id": case["id"], "task_id": task_id, "element_id": "apply", "meaning": "authorship"}
    history = sapi.client("applicant_a").get(f"/api/cases/{case['id']}/history").get_json()
    assert "task.completed" not in [e["action"] for e in history]


def test_repeated_wrong_passwords_are_throttled(sapi):
    case = sapi.start("applicant_a", "signed")
    alice = sapi.client("applicant_a")
    for _ in range(5):
        assert_problem(complete(alice, case["tasks"][0]["id"], {"statement": "x"}, "guess"), 401)
    r = complete(alice, case["tasks"][0]["id"], {"statement": "x"}, PASSWORD)
    assert_problem(r, 429)
    assert r.headers["Retry-After"]
    assert len(sapi.system_events("signature.throttled")) == 1


def test_right_password_signs_and_the_signature_is_shown_with_the_record(sapi):
    with time_machine.travel(T0, tick=False):
        case = signed_case(sapi)
    auditor = sapi.client("auditor")
    sigs = auditor.get(f"/api/cases/{case['id']}/signatures").get_json()
    assert [(s["element_id"], s["meaning"], s["username"], s["printed_name"]) for s in sigs] == [
        ("apply", "authorship", "alice", "Alice"), ("decide", "approval", "cody", "Cody")]
    assert all(s["signed_at"] == "2027-05-03T08:00:00.000000Z" and s["binding_ok"] for s in sigs)
    assert all(len(s["data_sha256"]) == 64 for s in sigs)
    history = auditor.get(f"/api/cases/{case['id']}/history?action=task.completed").get_json()
    assert [e["data"]["signature"]["meaning"] for e in history] == ["authorship", "approval"]
    assert history[1]["data"]["reason"] == "All standards met."
    assert sapi.system_events("signature.failed") == []


def test_signature_meaning_confirmed_by_the_client_must_match(sapi):
    case = sapi.start("applicant_a", "signed")
    r = complete(sapi.client("applicant_a"), case["tasks"][0]["id"], {"statement": "x"}, PASSWORD, meaning="approval")
    assert fields_of(assert_problem(r, 422)) == {"/signature/meaning"}


def test_a_signature_on_an_ordinary_task_is_refused(sapi):
    case = sapi.start("applicant_a")
    r = complete(sapi.client("applicant_a"), case["tasks"][0]["id"], {"answer": "yes"}, PASSWORD)
    assert fields_of(assert_problem(r, 422)) == {"/signature"}


def test_someone_without_the_role_is_refused_before_any_password_check(sapi):
    case = sapi.start("applicant_a", "signed")
    r = complete(sapi.client("committee"), case["tasks"][0]["id"], {"statement": "x"}, "whatever")
    assert_problem(r, 403)
    assert sapi.system_events("signature.failed") == []


# -- history, elements, verification ------------------------------------------------------------------

def test_history_is_paginated_and_filtered(sapi):
    with time_machine.travel(T0, tick=False) as clock:
        case = sapi.start("applicant_a")
        clock.shift(timedelta(hours=1))
        r = complete(sapi.client("applicant_a"), case["tasks"][0]["id"], {"answer": "yes"})
        assert r.status_code == 200
        clock.shift(timedelta(hours=1))
        assert sapi.client("coordinator").post(f"/api/cases/{case['id']}/comments",
                                               json={"body": "checked"}).status_code == 201
    auditor, url = sapi.client("auditor"), f"/api/cases/{case['id']}/history"
    everything = auditor.get(url)
    events = everything.get_json()
    total = int(everything.headers["X-Total-Count"])
    assert total == len(events) >= 6 and [e["seq"] for e in events] == list(range(1, total + 1))
    assert all(len(e["hash"]) == 64 for e in events) and events[1]["prev_hash"] == events[0]["hash"]
    page = auditor.get(f"{url}?per_page=2&page=2")
    assert [e["seq"] for e in page.get_json()] == [3, 4]
    assert json.loads(page.headers["X-Pagination"]) == {"total": total, "page": 2, "per_page": 2,
                                                         "total_pages": -(-total // 2)}
    assert 'rel="next"' in page.headers["Link"] and 'rel="prev"' in page.headers["Link"]
    assert [e["action"] for e in auditor.get(f"{url}?action=comment.added").get_json()] == ["comment.added"]
    assert {e["actor"] for e in auditor.get(f"{url}?actor=carol").get_json()} == {"carol"}
    assert {e["element_id"] for e in auditor.get(f"{url}?element_id=ask").get_json()} == {"ask"}
    window = auditor.get(f"{url}?since=2027-05-03T08:30:00Z&until=2027-05-03T09:30:00%2B00:00").get_json()
    assert window and {e["occurred_at"][:16] for e in window} == {"2027-05-03T09:00"}
    assert fields_of(assert_problem(auditor.get(f"{url}?since=yesterday"), 422)) == {"/since"}
    assert fields_of(assert_problem(auditor.get(f"{url}?per_page=5000"), 422)) == {"/per_page"}


def test_element_view_for_the_diagram_overlay(sapi):
    case = sapi.start("applicant_a")
    complete(sapi.client("applicant_a"), case["tasks"][0]["id"], {"answer": "yes"})
    view = {e["element_id"]: e for e in sapi.client("auditor").get(f"/api/cases/{case['id']}/history/elements")
            .get_json()}
    assert view["ask"]["state"] == "completed"
    assert [(c["actor"], c["role"]) for c in view["ask"]["completions"]] == [("alice", "applicant")]
    assert view["review"]["state"] == "active"


def test_verify_over_http_reports_the_first_broken_link(sapi):
    case = signed_case(sapi)
    url = f"/api/cases/{case['id']}/history/verify"
    ok = sapi.client("auditor").get(url).get_json()
    assert ok["ok"] is True and ok["first_broken"] is None and ok["checked"] >= 6 and len(ok["head"]["hash"]) == 64
    tamper(sapi.services.db, ("UPDATE event SET actor = 'mallory' WHERE case_id = :c AND seq = 3",
                              {"c": case["id"]}))
    broken = sapi.client("auditor").get(url).get_json()
    assert broken["ok"] is False and broken["first_broken"]["seq"] == 3
    assert_problem(sapi.client("applicant_b").get(url), 404)  # another laboratory learns nothing


# -- auditors read everything and write nothing ----------------------------------------------------------

def test_auditor_reads_every_case_of_every_laboratory(sapi):
    a, b = sapi.start("applicant_a"), sapi.start("applicant_b")
    auditor = sapi.client("auditor")
    for case in (a, b):
        for path in ("", "/history", "/history/elements", "/history/verify", "/signatures",
                     "/history/export?format=csv", "/history/export?format=json", "/record.pdf"):
            r = auditor.get(f"/api/cases/{case['id']}{path}")
            assert r.status_code == 200, (path, r.get_data(as_text=True)[:300])
    assert sapi.client("applicant_a").get(f"/api/cases/{b['id']}/history").status_code == 404


def test_auditor_writes_nothing(sapi):
    case = sapi.start("applicant_a", "signed")
    task_id = case["tasks"][0]["id"]
    auditor = sapi.client("auditor")
    attempts = {
        "start": auditor.post("/api/cases", json={"process": "two_step", "organisation_id": "lab-a"}),
        "claim": auditor.post(f"/api/tasks/{task_id}/claim"),
        "complete": complete(auditor, task_id, {"statement": "x"}, PASSWORD),
        "assign": auditor.post(f"/api/tasks/{task_id}/assign", json={"username": "alice"}),
        "comment": auditor.post(f"/api/cases/{case['id']}/comments", json={"body": "note"}),
        "upload": auditor.post(f"/api/cases/{case['id']}/attachments",
                               data={"file": (io.BytesIO(PDF), "x.pdf", "application/pdf")},
                               content_type="multipart/form-data"),
        "message": auditor.post("/api/messages/child_done", json={"organisation_id": "lab-a"}),
    }
    for name, r in attempts.items():
        assert r.status_code == 403, (name, r.status_code, r.get_json())
    assert len(sapi.system_events("permission.denied")) == len(attempts)
    history = sapi.client("auditor").get(f"/api/cases/{case['id']}/history").get_json()
    assert {e["actor"] for e in history} == {"alice"}  # the case is exactly as alice left it
    assert sapi.system_events("signature.failed") == []


# -- exports --------------------------------------------------------------------------------------------

def test_csv_export(sapi):
    case = signed_case(sapi)
    r = sapi.client("auditor").get(f"/api/cases/{case['id']}/history/export?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == 'attachment; filename="SIG-CASE-1-history.csv"'
    table = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    history = sapi.client("auditor").get(f"/api/cases/{case['id']}/history").get_json()
    assert [int(row["seq"]) for row in table] == [e["seq"] for e in history]
    assert [row["hash"] for row in table] == [e["hash"] for e in history]
    signed = [row for row in table if row["signature"]]
    assert [row["signature"].split(" by ")[0] for row in signed] == ["authorship", "approval"]
    assert "Cody (cody)" in signed[1]["signature"] and signed[1]["reason"] == "All standards met."
    assert json.loads(signed[1]["changes"])["decision"] == {"old": None, "new": "grant"}
    [exported] = sapi.system_events("record.exported")
    assert exported.actor == "audrey" and exported.data["format"] == "csv" and exported.data["chain_ok"] is True


def test_json_export(sapi):
    case = signed_case(sapi)
    r = sapi.client("auditor").get(f"/api/cases/{case['id']}/history/export?format=json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    record = json.loads(r.get_data())
    assert record["case"]["business_key"] == "SIG-CASE-1" and record["case"]["status"] == "completed"
    assert record["verification"]["ok"] is True
    assert [s["meaning"] for s in record["signatures"]] == ["authorship", "approval"]
    assert record["events"][-1]["hash"] == record["verification"]["head"]["hash"]
    assert record["exported_by"] == "audrey"
    assert_problem(sapi.client("auditor").get(f"/api/cases/{case['id']}/history/export?format=xml"), 422)


def _pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_record(sapi):
    case = signed_case(sapi)
    r = sapi.client("auditor").get(f"/api/cases/{case['id']}/record.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data.startswith(b"%PDF-")
    assert r.headers["Content-Disposition"] == 'attachment; filename="SIG-CASE-1-record.pdf"'
    text = _pdf_text(r.data)
    for expected in ("SIG-CASE-1", "approval", "authorship", "VERIFIED", "Committee decision",
                     "All standards met.", "case.started", "Electronic signatures", "Timeline"):
        assert expected in text, expected
    assert [e.data["format"] for e in sapi.system_events("record.exported")] == ["pdf"]


def test_pdf_record_shows_a_broken_chain(sapi):
    case = signed_case(sapi)
    tamper(sapi.services.db, ("DELETE FROM event WHERE case_id = :c AND seq = 2", {"c": case["id"]}))
    text = _pdf_text(sapi.client("auditor").get(f"/api/cases/{case['id']}/record.pdf").data)
    assert "BROKEN" in text and "seq 3" in text


def test_openapi_documents_the_audit_endpoints(api):
    paths = api.client().get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/cases/{case_id}/history", "/api/cases/{case_id}/history/elements",
                 "/api/cases/{case_id}/history/verify", "/api/cases/{case_id}/history/export",
                 "/api/cases/{case_id}/signatures", "/api/cases/{case_id}/record.pdf"):
        assert path in paths, path
    complete_body = paths["/api/tasks/{task_id}/complete"]["post"]["requestBody"]
    assert complete_body


def test_engine_history_still_lists_events_with_hashes(sapi):
    case = sapi.start("applicant_a")
    with sapi.services.db.read() as s:
        from engine.storage.models import Event

        count = s.scalar(sa.select(sa.func.count(Event.id)).where(Event.case_id == case["id"]))
    assert len(sapi.services.engine.history(case["id"])) == count
