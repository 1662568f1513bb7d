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


def _waits_for(pid: str, sent_by: str | None) -> dict:
    """start → a catch event waiting for message '<pid>_msg' (sentBy as given) → end; all in the applicant lane."""
    from ..engine.bpmn_builder import flow, process

    props = ("" if sent_by is None else '<bpmn:extensionElements><spiffworkflow:properties>'
             f'<spiffworkflow:property name="sentBy" value="{sent_by}"/></spiffworkflow:properties>'
             '</bpmn:extensionElements>')
    body = ('<bpmn:startEvent id="start"/>'
            f'<bpmn:intermediateCatchEvent id="wait" name="Wait">{props}'
            f'<bpmn:messageEventDefinition messageRef="m_{pid}"/></bpmn:intermediateCatchEvent>'
            '<bpmn:endEvent id="end"/>' + flow("f1", "start", "wait") + flow("f2", "wait", "end"))
    return {f"{pid}.bpmn": process(pid, {"applicant": ["start", "wait", "end"]}, body,
                                   f'<bpmn:message id="m_{pid}" name="{pid}_msg"/>')}


def test_only_the_roles_a_catch_event_names_in_sentBy_send_its_message(api):
    api.services.engine.deploy(_waits_for("by_staff", "coordinator"), deployed_by="tests")
    api.services.engine.deploy(_waits_for("between_cases", None), deployed_by="tests")
    staff_case = api.start(process_key="by_staff")
    internal_case = api.start(process_key="between_cases")
    applicant, carol = api.client("applicant_a"), api.client("coordinator")

    # declared for coordinators only: the laboratory cannot send it, even into its own case
    body = assert_problem(applicant.post("/api/messages/by_staff_msg", json={"case_id": staff_case["id"]}), 403)
    assert "sentBy: coordinator" in body["detail"], body
    # no sentBy: a message the processes send each other; nobody forges it from outside
    for who in (applicant, carol):
        body = assert_problem(who.post("/api/messages/between_cases_msg", json={"case_id": internal_case["id"]}), 403)
        assert "processes send it to each other" in body["detail"], body
    for case in (staff_case, internal_case):
        assert carol.get(f"/api/cases/{case['id']}").get_json()["status"] == "running"

    r = carol.post("/api/messages/by_staff_msg", json={"case_id": staff_case["id"]})
    assert r.status_code == 202 and r.get_json()["case_ids"] == [staff_case["id"]], r.get_json()
    assert carol.get(f"/api/cases/{staff_case['id']}").get_json()["status"] == "completed"
