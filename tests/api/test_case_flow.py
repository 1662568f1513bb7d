"""A two_step case driven entirely over HTTP: start, inbox, form, validation, completion, history."""
from __future__ import annotations

from .conftest import assert_problem, fields_of


def test_two_step_case_over_http(api):
    alice, carol = api.client("applicant_a", via="session"), api.client("coordinator")

    r = alice.post("/api/cases", json={"process": "two_step", "business_key": "LAB-A-2027-1"})
    assert r.status_code == 201
    case = r.get_json()
    assert (case["status"], case["organisation_id"], case["business_key"]) == ("running", "lab-a", "LAB-A-2027-1")
    assert [t["element_id"] for t in case["tasks"]] == ["ask"]

    inbox = alice.get("/api/tasks").get_json()
    assert inbox["total"] == 1
    [item] = inbox["items"]
    assert (item["element_id"], item["form"], item["role"], item["case_id"]) == ("ask", "simple.json", "applicant",
                                                                                 case["id"])
    assert carol.get("/api/tasks").get_json()["total"] == 0  # nothing for the coordinator yet

    detail = alice.get(f"/api/tasks/{item['id']}").get_json()
    schema = detail["form"]["schema"]
    assert schema["required"] == ["answer"] and schema["properties"]["answer"]["enum"] == ["yes", "no"]
    assert detail["form"]["name"] == "simple.json"

    bad = alice.post(f"/api/tasks/{item['id']}/complete", json={"data": {"answer": "maybe", "note": "x" * 30}})
    body = assert_problem(bad, 422)
    assert fields_of(body) == {"/answer", "/note"}
    missing = assert_problem(alice.post(f"/api/tasks/{item['id']}/complete", json={"data": {}}), 422)
    assert missing["errors"] == [{"field": "/answer", "message": "is required"}]
    extra = assert_problem(alice.post(f"/api/tasks/{item['id']}/complete",
                                      json={"data": {"answer": "yes", "colour": "red"}}), 422)
    assert fields_of(extra) == {"/colour"}
    assert alice.get(f"/api/tasks/{item['id']}").get_json()["status"] == "ready"  # nothing was saved

    done = alice.post(f"/api/tasks/{item['id']}/complete", json={"data": {"answer": "yes", "note": "fine"}})
    assert done.status_code == 200
    after = done.get_json()
    assert after["status"] == "running" and after["data"]["answer"] == "yes"
    assert "result" not in after["data"]  # a script's output the diagram does not share with the lab
    assert carol.get(f"/api/cases/{case['id']}").get_json()["data"]["result"] == "YES"
    assert after["tasks"] == []  # the applicant may not act on 'review'
    assert alice.get("/api/tasks").get_json()["total"] == 0

    [review] = carol.get("/api/tasks").get_json()["items"]
    assert (review["element_id"], review["role"]) == ("review", "coordinator")
    assert carol.get(f"/api/cases/{case['id']}").get_json()["tasks"][0]["id"] == review["id"]
    assert carol.get(f"/api/tasks/{review['id']}").get_json()["form"]["schema"] is None
    # a task without a form takes no data
    assert fields_of(assert_problem(carol.post(f"/api/tasks/{review['id']}/complete",
                                               json={"data": {"ok": True}}), 422)) == {"/ok"}
    end = carol.post(f"/api/tasks/{review['id']}/complete", json={"data": {}})
    assert end.status_code == 200
    assert (end.get_json()["status"], end.get_json()["outcome"]) == ("completed", "end_yes")
    assert end.get_json()["ended_at"]

    history = alice.get(f"/api/cases/{case['id']}/history").get_json()
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))
    actions = [(e["action"], e["element_id"]) for e in history]
    assert actions == [("case.started", None), ("element.completed", "start"), ("task.ready", "ask"),
                       ("task.completed", "ask"), ("element.completed", "compute"), ("element.completed", "gw"),
                       ("task.ready", "review"), ("task.completed", "review"), ("element.completed", "end_yes"),
                       ("case.ended", None)]
    by_action = {(e["action"], e["element_id"]): e for e in history}
    ask_done = by_action[("task.completed", "ask")]
    assert (ask_done["actor"], ask_done["role"]) == ("alice", "applicant")
    assert ask_done["data"]["submitted"] == {"answer": "yes", "note": "fine"}
    assert by_action[("task.completed", "review")]["actor"] == "carol"

    listed = carol.get("/api/cases?status=completed").get_json()
    assert [c["id"] for c in listed["items"]] == [case["id"]]
    assert carol.get("/api/cases?status=running").get_json()["total"] == 0


def test_answer_no_ends_the_case_without_review(api):
    alice = api.client("applicant_a")
    case = api.start("applicant_a")
    r = alice.post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": "no"}})
    assert (r.get_json()["status"], r.get_json()["outcome"]) == ("completed", "end_no")
    assert api.client("coordinator").get("/api/tasks").get_json()["total"] == 0


def test_completing_a_completed_task_is_409(api):
    alice = api.client("applicant_a")
    case = api.start("applicant_a")
    task_id = case["tasks"][0]["id"]
    assert alice.post(f"/api/tasks/{task_id}/complete", json={"data": {"answer": "yes"}}).status_code == 200
    body = assert_problem(alice.post(f"/api/tasks/{task_id}/complete", json={"data": {"answer": "no"}}), 409)
    assert body["status"] == 409 and "completed" in body["detail"]
    assert body["resource_status"] == "completed"  # the task's status, not the problem's
    # claiming it is a conflict too, and the answer stands
    assert_problem(alice.post(f"/api/tasks/{task_id}/claim"), 409)
    history = alice.get(f"/api/cases/{case['id']}/history").get_json()
    assert [e["data"]["submitted"] for e in history if e["action"] == "task.completed"] == [{"answer": "yes"}]


def test_comments_on_case_and_task(api):
    alice, carol = api.client("applicant_a"), api.client("coordinator")
    case = api.start("applicant_a")
    r = alice.post(f"/api/cases/{case['id']}/comments", json={"body": "  first  ", "task_id": case["tasks"][0]["id"]})
    assert r.status_code == 201 and r.get_json()["body"] == "first" and r.get_json()["author"] == "alice"
    assert carol.post(f"/api/cases/{case['id']}/comments", json={"body": "second"}).status_code == 201
    assert [c["body"] for c in alice.get(f"/api/cases/{case['id']}/comments").get_json()] == ["first", "second"]
    assert fields_of(assert_problem(carol.post(f"/api/cases/{case['id']}/comments",
                                               json={"body": "x", "task_id": "nope"}), 422)) == {"/task_id"}
    assert fields_of(assert_problem(carol.post(f"/api/cases/{case['id']}/comments", json={"body": ""}), 422)) \
        == {"/body"}
    assert [e["action"] for e in alice.get(f"/api/cases/{case['id']}/history").get_json()].count("comment.added") == 2


def test_internal_notes_over_http(api):
    case = api.start("applicant_a")
    carol, alice = api.client("coordinator"), api.client("applicant_a")
    r = carol.post(f"/api/cases/{case['id']}/comments", json={"body": "staff only", "internal": True})
    assert r.status_code == 201 and r.get_json()["internal"] is True
    assert carol.post(f"/api/cases/{case['id']}/comments", json={"body": "to the lab"}).status_code == 201
    assert [c["body"] for c in alice.get(f"/api/cases/{case['id']}/comments").get_json()] == ["to the lab"]
    assert alice.post(f"/api/cases/{case['id']}/comments", json={"body": "x", "internal": True}).status_code == 403
