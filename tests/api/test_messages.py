"""Messages from outside into waiting cases: routed by organisation, refused to inspectors, 404 when no
case of the sender's organisation waits for it."""
from __future__ import annotations

from .conftest import assert_problem


def _waiting_parent(api, who="applicant_a"):
    """A 'parent' case whose 'ask' is done: it started a linked 'child' case and waits for 'child_done'."""
    case = api.start(who, "parent")
    r = api.client(who).post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": "yes"}})
    assert r.status_code == 200 and r.get_json()["status"] == "running" and r.get_json()["tasks"] == []
    return case


def test_message_reaches_only_the_senders_organisation(api):
    parent = _waiting_parent(api)
    carol = api.client("coordinator")
    children = [c for c in carol.get("/api/cases?process=child").get_json()["items"]]
    assert [(c["parent_case_id"], c["organisation_id"]) for c in children] == [(parent["id"], "lab-a")]

    body = assert_problem(api.client("applicant_b").post("/api/messages/child_done", json={"payload": {"ok": "b"}}),
                          404)
    assert "lab-b" in body["detail"]
    assert_problem(api.client("inspector").post("/api/messages/child_done", json={"organisation_id": "lab-a"}), 403)
    assert carol.get(f"/api/cases/{parent['id']}").get_json()["status"] == "running"

    r = api.client("applicant_a").post("/api/messages/child_done", json={"payload": {"ok": "outside"}})
    assert r.status_code == 202
    assert r.get_json() == {"message": "child_done", "case_ids": [parent["id"]]}
    after = carol.get(f"/api/cases/{parent['id']}").get_json()
    assert (after["status"], after["data"]["reply"]) == ("completed", {"ok": "outside"})
    received = [e for e in carol.get(f"/api/cases/{parent['id']}/history").get_json()
                if e["action"] == "message.received"]
    assert [(e["actor"], e["data"]["payload"]) for e in received] == [("alice", {"ok": "outside"})]

    # delivered once: nobody waits any more
    assert_problem(api.client("applicant_a").post("/api/messages/child_done", json={}), 404)


def test_message_nobody_waits_for_is_404(api):
    _waiting_parent(api)
    body = assert_problem(api.client("applicant_a").post("/api/messages/never_heard_of", json={}), 404)
    assert "never_heard_of" in body["detail"]
    # a message-start event is not started from outside ('child_due' starts 'child' only from a case)
    assert_problem(api.client("coordinator").post("/api/messages/child_due", json={"organisation_id": "lab-a"}), 404)


def test_coordinator_sends_to_a_named_case(api):
    a = _waiting_parent(api)
    b = _waiting_parent(api, "applicant_b")
    r = api.client("coordinator").post("/api/messages/child_done", json={"case_id": b["id"], "payload": {"ok": 2}})
    assert r.status_code == 202 and r.get_json()["case_ids"] == [b["id"]]
    assert api.client("applicant_a").get(f"/api/cases/{a['id']}").get_json()["status"] == "running"
    # an applicant naming another organisation, or another organisation's case, gets nowhere
    assert_problem(api.client("applicant_b").post("/api/messages/child_done", json={"organisation_id": "lab-a"}), 403)
    assert_problem(api.client("applicant_b").post("/api/messages/child_done", json={"case_id": a["id"]}), 404)
    assert api.client("applicant_a").get(f"/api/cases/{a['id']}").get_json()["status"] == "running"
