"""Who is on a case, over real HTTP: an inspector removed from a case's team — the team named again without
them, or a conflict of interest declared — is refused at once everywhere (case, history, exports, inbox,
completing a task); naming them again restores access; a called process shares its parent case's team.

The diagram (``teamed``): the coordinator names the team (``caseTeam="team"``), then in parallel the team
works in a called process (``teamed_work``: one 'inspect' task in the inspector lane, for any member) while
the coordinator may change the team, after which a member declares a conflict
(``revokesMembershipIf="conflict"``); a conflict sends the coordinator back to change the team."""
from __future__ import annotations

from ..engine.bpmn_builder import flow, process, user_task
from .conftest import TEAM_FORM, assert_problem

COI_FORM = ('{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
            '"additionalProperties": false, "required": ["conflict"], '
            '"properties": {"conflict": {"type": "boolean"}, "details": {"type": "string"}}}')


def teamed_bundle():
    body = ('<bpmn:startEvent id="start"/>'
            + user_task("name_team", "Name the team", "team.json", {"caseTeam": "team"})
            + '<bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
            + '<bpmn:callActivity id="work" name="Work" calledElement="teamed_work"/>'
            + user_task("change_team", "Change the team", "team.json", {"caseTeam": "team"})
            + user_task("declare", "Declare conflict", "coi.json",
                        {"revokesMembershipIf": "conflict", "staffOnlyVariables": "conflict,details"})
            + '<bpmn:exclusiveGateway id="coi_gw" name="Conflict?" default="f_none"/>'
            + '<bpmn:endEvent id="end"/>'
            + flow("f0", "start", "name_team") + flow("f1", "name_team", "split")
            + flow("f2", "split", "work") + flow("f3", "work", "join")
            + flow("f4", "split", "change_team") + flow("f5", "change_team", "declare")
            + flow("f6", "declare", "coi_gw") + flow("f_conflict", "coi_gw", "change_team", "conflict")
            + flow("f_none", "coi_gw", "join") + flow("f7", "join", "end"))
    lanes = {"coordinator": ["start", "name_team", "split", "work", "change_team", "coi_gw", "join", "end"],
             "inspector": ["declare"]}
    sub = ('<bpmn:startEvent id="w_start"/>' + user_task("inspect", "Inspect", None) + '<bpmn:endEvent id="w_end"/>'
           + flow("w1", "w_start", "inspect") + flow("w2", "inspect", "w_end"))
    return {"teamed.bpmn": process("teamed", lanes, body),
            "teamed_work.bpmn": process("teamed_work", {"inspector": ["w_start", "inspect", "w_end"]}, sub),
            "team.json": TEAM_FORM, "coi.json": COI_FORM}


def _case_urls(case_id):
    return [f"/api/cases/{case_id}", f"/api/cases/{case_id}/history",
            f"/api/cases/{case_id}/history/export?format=csv", f"/api/cases/{case_id}/history/export?format=json",
            f"/api/cases/{case_id}/record.pdf"]


def _task(client, case_id, element_id):
    r = client.get(f"/api/cases/{case_id}")
    assert r.status_code == 200, r.get_json()
    [task] = [t for t in r.get_json()["tasks"] if t["element_id"] == element_id]
    return task["id"]


def _complete(client, task_id, data):
    r = client.post(f"/api/tasks/{task_id}/complete", json={"data": data})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _inbox(client):
    r = client.get("/api/tasks?per_page=100")
    assert r.status_code == 200, r.get_json()
    return [t["element_id"] for t in r.get_json()["items"]]


def _refused(client, case_id, task_id):
    for url in _case_urls(case_id):
        assert_problem(client.get(url), 404)
    assert _inbox(client) == []
    assert client.get("/api/cases").get_json()["total"] == 0
    assert_problem(client.post(f"/api/tasks/{task_id}/complete", json={"data": {}}), 404)


def _allowed(client, case_id):
    for url in _case_urls(case_id):
        assert client.get(url).status_code == 200, url


def test_removed_and_conflicted_inspectors_are_refused_and_can_be_named_again(api):
    api.services.engine.deploy(teamed_bundle(), deployed_by="tests")
    carol, ivan, iris = api.client("coordinator"), api.client("inspector"), api.client("inspector2")
    r = carol.post("/api/cases", json={"process": "teamed", "organisation_id": "lab-a"})
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    for inspector in (ivan, iris):
        assert_problem(inspector.get(f"/api/cases/{case_id}"), 404)

    _complete(carol, _task(carol, case_id, "name_team"), {"team": ["ivan", "iris"]})
    inspect = _task(carol, case_id, "inspect")  # in the called process, inside the same case
    for inspector in (ivan, iris):
        _allowed(inspector, case_id)
        assert _inbox(inspector) == ["inspect"]  # unassigned: any member may take it

    assert iris.post(f"/api/tasks/{inspect}/claim").status_code == 200

    # the team is named again without iris: she is refused at once, everywhere, and her claim is given back
    _complete(carol, _task(carol, case_id, "change_team"), {"team": ["ivan"]})
    _refused(iris, case_id, inspect)
    assert carol.get(f"/api/tasks/{inspect}").get_json()["claimed_by"] is None
    _allowed(ivan, case_id)
    assert sorted(_inbox(ivan)) == ["declare", "inspect"]

    # ivan declares a conflict: off the case before anyone else acts
    _complete(ivan, _task(carol, case_id, "declare"), {"conflict": True, "details": "ZQXCOI"})
    _refused(ivan, case_id, inspect)

    # the history says who changed the team and why (staff); a laboratory learns neither
    history = carol.get(f"/api/cases/{case_id}/history?action=team.*").get_json()
    assert [(e["action"], e["actor"], e["data"]["username"]) for e in history] == [
        ("team.member_added", "carol", "ivan"), ("team.member_added", "carol", "iris"),
        ("team.member_removed", "carol", "iris"), ("team.member_removed", "ivan", "ivan")]
    assert history[-1]["data"]["reason"] == "conflict at 'Declare conflict'"
    lab = api.client("applicant_a").get(f"/api/cases/{case_id}/history?action=team.*").get_json()
    assert lab and all(e["data"] == {"redacted": True} for e in lab)
    assert "ZQXCOI" not in api.client("applicant_a").get(f"/api/cases/{case_id}/history/export?format=json").get_data(as_text=True)

    # the coordinator names both again: access comes back, the work goes on
    _complete(carol, _task(carol, case_id, "change_team"), {"team": ["ivan", "iris"]})
    for inspector in (ivan, iris):
        _allowed(inspector, case_id)
    _complete(ivan, _task(carol, case_id, "declare"), {"conflict": False})
    done = _complete(iris, inspect, {})
    assert done["status"] == "completed"


def test_a_team_variable_that_is_missing_or_not_usernames_is_a_4xx_naming_the_element(api):
    bundle = teamed_bundle()
    bundle["teamed.bpmn"] = bundle["teamed.bpmn"].replace('value="team"', 'value="team,deputy"', 1)
    api.services.engine.deploy(bundle, deployed_by="tests")
    carol = api.client("coordinator")
    case_id = carol.post("/api/cases", json={"process": "teamed", "organisation_id": "lab-a"}).get_json()["id"]
    r = carol.post(f"/api/tasks/{_task(carol, case_id, 'name_team')}/complete", json={"data": {"team": ["ivan"]}})
    assert r.status_code < 500
    problem = assert_problem(r, r.status_code)
    assert "deputy" in problem["detail"] and problem.get("element_id") == "name_team", problem
    assert_problem(api.client("inspector").get(f"/api/cases/{case_id}"), 404)  # nothing was written
