"""Organisation isolation: lab-b's applicant learns nothing about lab-a's cases — every case-scoped request
answers 404 exactly as for a case id that does not exist, and lists leave lab-a's cases out."""
from __future__ import annotations

import hashlib
import uuid

import pytest

from .conftest import PDF, assert_problem


@pytest.fixture
def lab_a(api):
    """A lab-a case with a comment and an attachment, and a lab-b case."""
    alice = api.client("applicant_a")
    case = api.start("applicant_a")
    task_id = case["tasks"][0]["id"]
    assert alice.post(f"/api/cases/{case['id']}/comments", json={"body": "our SOP v2"}).status_code == 201
    up = alice.post(f"/api/cases/{case['id']}/attachments", data={"file": (_pdf(), "sop.pdf", "application/pdf")},
                    content_type="multipart/form-data")
    assert up.status_code == 201
    own = api.start("applicant_b")
    return {"case": case, "task_id": task_id, "sha": up.get_json()["sha256"], "b_case": own}


def _pdf():
    import io

    return io.BytesIO(PDF)


REQUESTS = {
    "read case": lambda c, x: c.get(f"/api/cases/{x['case']['id']}"),
    "history": lambda c, x: c.get(f"/api/cases/{x['case']['id']}/history"),
    "comments": lambda c, x: c.get(f"/api/cases/{x['case']['id']}/comments"),
    "comment": lambda c, x: c.post(f"/api/cases/{x['case']['id']}/comments", json={"body": "hello"}),
    "attachments": lambda c, x: c.get(f"/api/cases/{x['case']['id']}/attachments"),
    "upload": lambda c, x: c.post(f"/api/cases/{x['case']['id']}/attachments",
                                  data={"file": (_pdf(), "x.pdf", "application/pdf")},
                                  content_type="multipart/form-data"),
    "download": lambda c, x: c.get(f"/api/cases/{x['case']['id']}/attachments/{x['sha']}"),
    "read task": lambda c, x: c.get(f"/api/tasks/{x['task_id']}"),
    "claim": lambda c, x: c.post(f"/api/tasks/{x['task_id']}/claim"),
    "unclaim": lambda c, x: c.post(f"/api/tasks/{x['task_id']}/unclaim"),
    "complete": lambda c, x: c.post(f"/api/tasks/{x['task_id']}/complete", json={"data": {"answer": "yes"}}),
    "message to case": lambda c, x: c.post("/api/messages/child_done", json={"case_id": x["case"]["id"]}),
}
OK = {"read case": 200, "history": 200, "comments": 200, "comment": 201, "attachments": 200, "upload": 201,
      "download": 200, "read task": 200, "claim": 200, "unclaim": 200, "complete": 200, "message to case": 404}


@pytest.mark.parametrize("name", list(REQUESTS))
def test_other_lab_gets_404_for_every_case_scoped_request(api, lab_a, name):
    r = REQUESTS[name](api.client("applicant_b"), lab_a)
    body = assert_problem(r, 404)
    assert lab_a["case"]["business_key"] not in r.get_data(as_text=True)
    assert "our SOP" not in r.get_data(as_text=True)
    assert api.system_events("permission.denied") == []
    # and the same request by lab-a's applicant succeeds: the 404 is about the organisation, not the request
    if name != "message to case":
        assert REQUESTS[name](api.client("applicant_a"), lab_a).status_code == OK[name]
    assert body["detail"]


def test_foreign_case_looks_exactly_like_a_missing_one(api, lab_a):
    bob = api.client("applicant_b")
    foreign = bob.get(f"/api/cases/{lab_a['case']['id']}").get_json()
    missing_id = str(uuid.uuid4())
    missing = bob.get(f"/api/cases/{missing_id}").get_json()
    assert foreign["detail"].replace(lab_a["case"]["id"], "X") == missing["detail"].replace(missing_id, "X")
    assert foreign["type"] == missing["type"]


def test_nothing_changed_by_refused_requests(api, lab_a):
    bob = api.client("applicant_b")
    for name in ("comment", "upload", "claim", "complete"):
        REQUESTS[name](bob, lab_a)
    alice = api.client("applicant_a")
    case_id = lab_a["case"]["id"]
    assert [c["body"] for c in alice.get(f"/api/cases/{case_id}/comments").get_json()] == ["our SOP v2"]
    assert [a["sha256"] for a in alice.get(f"/api/cases/{case_id}/attachments").get_json()] == [lab_a["sha"]]
    task = alice.get(f"/api/tasks/{lab_a['task_id']}").get_json()
    assert (task["status"], task["claimed_by"]) == ("ready", None)


def test_lists_leave_other_labs_out(api, lab_a):
    bob = api.client("applicant_b")
    cases = bob.get("/api/cases").get_json()
    assert [c["id"] for c in cases["items"]] == [lab_a["b_case"]["id"]] and cases["total"] == 1
    assert bob.get("/api/cases?organisation_id=lab-a").get_json()["total"] == 0
    assert bob.get(f"/api/cases?q={lab_a['case']['business_key']}").get_json()["total"] == 0
    tasks = bob.get("/api/tasks").get_json()
    assert {t["case_id"] for t in tasks["items"]} == {lab_a["b_case"]["id"]}
    assert bob.get(f"/api/tasks?case_id={lab_a['case']['id']}").get_json()["total"] == 0
    # lab-a's own applicant and a coordinator do see lab-a's case
    alice = api.client("applicant_a")
    assert [c["id"] for c in alice.get("/api/cases").get_json()["items"]] == [lab_a["case"]["id"]]
    assert api.client("coordinator").get("/api/cases").get_json()["total"] == 2


def test_download_of_same_file_needs_its_own_case(api, lab_a):
    """The file store is content-addressed: lab-b uploading identical bytes to its case must not open
    lab-a's copy, and lab-a's sha256 on lab-b's case is unknown."""
    bob = api.client("applicant_b")
    b_case = lab_a["b_case"]["id"]
    assert_problem(bob.get(f"/api/cases/{b_case}/attachments/{lab_a['sha']}"), 404)
    up = bob.post(f"/api/cases/{b_case}/attachments", data={"file": (_pdf(), "mine.pdf", "application/pdf")},
                  content_type="multipart/form-data")
    assert up.status_code == 201 and up.get_json()["sha256"] == hashlib.sha256(PDF).hexdigest() == lab_a["sha"]
    r = bob.get(f"/api/cases/{b_case}/attachments/{lab_a['sha']}")
    assert r.status_code == 200 and 'filename=mine.pdf' in r.headers["Content-Disposition"]
    assert_problem(bob.get(f"/api/cases/{lab_a['case']['id']}/attachments/{lab_a['sha']}"), 404)
