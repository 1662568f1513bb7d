"""Who may do what: one table of (action, role) → status, each row driven over HTTP against a fresh app.

Case-scoped reads of an invisible case answer 404; acting on a visible case without the role answers 403."""
from __future__ import annotations

import pytest

from .conftest import ROLES, assert_problem


def _two_step(api):
    return api.start("applicant_a")


def _review_ready(api):
    case = api.start("applicant_a")
    r = api.client("applicant_a").post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": "yes"}})
    assert r.status_code == 200
    return case


def _parent_waiting(api):
    case = api.start("applicant_a", "parent")
    r = api.client("applicant_a").post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": "no"}})
    assert r.status_code == 200 and r.get_json()["tasks"] == []
    return case


def _task_id(api, case, element_id):
    return api.task(case, element_id, "coordinator")["id"]


def start_own(api, client):
    return client.post("/api/cases", json={"process": "two_step"})


def start_for_lab_b(api, client):
    return client.post("/api/cases", json={"process": "two_step", "organisation_id": "lab-b"})


def get_case(api, client):
    return client.get(f"/api/cases/{_two_step(api)['id']}")


def case_history(api, client):
    return client.get(f"/api/cases/{_two_step(api)['id']}/history")


def complete_ask(api, client):
    case = _two_step(api)
    return client.post(f"/api/tasks/{_task_id(api, case, 'ask')}/complete", json={"data": {"answer": "yes"}})


def complete_review(api, client):
    case = _review_ready(api)
    return client.post(f"/api/tasks/{_task_id(api, case, 'review')}/complete", json={"data": {}})


def claim_ask(api, client):
    case = _two_step(api)
    return client.post(f"/api/tasks/{_task_id(api, case, 'ask')}/claim")


def claim_review(api, client):
    case = _review_ready(api)
    return client.post(f"/api/tasks/{_task_id(api, case, 'review')}/claim")


def assign_ask(api, client):
    case = _two_step(api)
    return client.post(f"/api/tasks/{_task_id(api, case, 'ask')}/assign", json={"username": "alice"})


def message_child_done(api, client):
    case = _parent_waiting(api)
    return client.post("/api/messages/child_done", json={"organisation_id": "lab-a", "payload": {"ok": 1}})


def list_definitions(api, client):
    return client.get("/api/process-definitions")


STAFF_READ = {"coordinator", "coordinator2", "committee", "auditor", "quality_manager", "admin"}

MATRIX = {
    # action: {role: status}; roles not named get the default in the tuple's second item
    start_own: ({"applicant_a": 201, "applicant_a2": 201, "applicant_b": 201}, 403),
    start_for_lab_b: ({"applicant_b": 201}, 403),
    get_case: ({**{r: 200 for r in STAFF_READ}, "applicant_a": 200, "applicant_a2": 200}, 404),
    case_history: ({**{r: 200 for r in STAFF_READ}, "applicant_a": 200, "applicant_a2": 200}, 404),
    complete_ask: ({**{r: 403 for r in STAFF_READ}, "applicant_a": 200, "applicant_a2": 200}, 404),
    complete_review: ({**{r: 403 for r in STAFF_READ}, "coordinator": 200, "coordinator2": 200, "applicant_a": 403,
                       "applicant_a2": 403}, 404),
    claim_ask: ({**{r: 403 for r in STAFF_READ}, "applicant_a": 200, "applicant_a2": 200}, 404),
    claim_review: ({**{r: 403 for r in STAFF_READ}, "coordinator": 200, "coordinator2": 200, "applicant_a": 403,
                    "applicant_a2": 403}, 404),
    assign_ask: ({"coordinator": 200, "coordinator2": 200}, 403),
    message_child_done: ({"coordinator": 202, "coordinator2": 202, "applicant_a": 202, "applicant_a2": 202}, 403),
    list_definitions: ({}, 200),
}
# lab-b's applicant may not send for lab-a (its own organisation is implied, so 'organisation_id: lab-a' is refused)
CASES = [(action, role, table.get(role, default)) for action, (table, default) in MATRIX.items() for role in ROLES]


@pytest.mark.parametrize("action,role,expected", CASES,
                         ids=[f"{a.__name__}-{r}-{s}" for a, r, s in CASES])
def test_authorization_matrix(api, action, role, expected):
    r = action(api, api.client(role))
    if expected >= 400:
        body = assert_problem(r, expected)
        if expected == 403:
            denials = api.system_events("permission.denied")
            assert denials and denials[-1].actor == api.username(role)
            assert denials[-1].data["path"] == r.request.path
    else:
        assert r.status_code == expected, r.get_json()


def test_applicant_start_other_org_is_403_and_creates_nothing(api):
    r = api.client("applicant_a").post("/api/cases", json={"process": "two_step", "organisation_id": "lab-b"})
    assert_problem(r, 403)
    assert api.client("coordinator").get("/api/cases").get_json()["total"] == 0


def test_forbidden_records_a_system_event(api):
    assert api.system_events("permission.denied") == []
    r = api.client("coordinator").post("/api/cases", json={"process": "two_step", "organisation_id": "lab-a"})
    body = assert_problem(r, 403)
    [event] = api.system_events("permission.denied")
    assert event.case_id is None and event.actor == "carol"
    assert event.data == {"method": "POST", "path": "/api/cases", "reason": body["detail"]}


def test_not_found_records_no_denial(api):
    case = api.start("applicant_a")
    assert_problem(api.client("applicant_b").get(f"/api/cases/{case['id']}"), 404)
    assert api.system_events("permission.denied") == []


def test_inspector_sees_a_case_only_once_on_its_team(api):
    coordinator = api.client("coordinator")
    r = coordinator.post("/api/cases", json={"process": "inspected", "organisation_id": "lab-a"})
    assert r.status_code == 201
    case = r.get_json()
    for who in ("inspector", "inspector2"):
        assert_problem(api.client(who).get(f"/api/cases/{case['id']}"), 404)
        assert api.client(who).get("/api/tasks").get_json()["total"] == 0
    name_team = case["tasks"][0]["id"]
    r = coordinator.post(f"/api/tasks/{name_team}/complete", json={"data": {"team": ["ivan"]}})
    assert r.status_code == 200, r.get_json()
    [inspect] = r.get_json()["tasks"]
    task_id = inspect["id"]
    ivan, iris = api.client("inspector"), api.client("inspector2")
    assert ivan.get(f"/api/cases/{case['id']}").status_code == 200
    assert [t["id"] for t in ivan.get("/api/tasks").get_json()["items"]] == [task_id]  # on the team: his inbox
    assert_problem(iris.get(f"/api/cases/{case['id']}"), 404)
    assert iris.get("/api/tasks").get_json()["total"] == 0
    # only someone holding the role, and on the case's team, may be given the task
    bad = coordinator.post(f"/api/tasks/{task_id}/assign", json={"username": "alice"})
    assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["/username"]
    bad = coordinator.post(f"/api/tasks/{task_id}/assign", json={"username": "iris"})
    assert [e["field"] for e in assert_problem(bad, 422)["errors"]] == ["/username"]
    assert coordinator.post(f"/api/tasks/{task_id}/assign", json={"username": "ivan"}).get_json()["claimed_by"] == "ivan"
    assert_problem(iris.post(f"/api/tasks/{task_id}/complete", json={"data": {}}), 404)
    done = ivan.post(f"/api/tasks/{task_id}/complete", json={"data": {}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    # a completed inspection still counts as the inspector's case: he is still on its team
    assert ivan.get(f"/api/cases/{case['id']}").status_code == 200


def test_unclaim_by_someone_else_is_403_but_coordinator_may(api):
    case = api.start("applicant_a")
    task_id = case["tasks"][0]["id"]
    assert api.client("applicant_a").post(f"/api/tasks/{task_id}/claim").status_code == 200
    assert_problem(api.client("applicant_a2").post(f"/api/tasks/{task_id}/unclaim"), 403)
    r = api.client("coordinator").post(f"/api/tasks/{task_id}/unclaim")
    assert r.status_code == 200 and r.get_json()["claimed_by"] is None
