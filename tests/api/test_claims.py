"""Claims: take a task so colleagues see it is yours; conflicts when someone else holds it; a real race."""
from __future__ import annotations

import threading

from .conftest import assert_problem


def test_claim_conflict_unclaim(api):
    alice, anna = api.client("applicant_a"), api.client("applicant_a2")
    case = api.start("applicant_a")
    task_id = case["tasks"][0]["id"]

    r = alice.post(f"/api/tasks/{task_id}/claim")
    assert r.status_code == 200 and r.get_json()["claimed_by"] == "alice"
    assert anna.get(f"/api/tasks/{task_id}").get_json()["claimed_by"] == "alice"
    assert alice.post(f"/api/tasks/{task_id}/claim").status_code == 200  # claiming again is harmless

    body = assert_problem(anna.post(f"/api/tasks/{task_id}/claim"), 409)
    assert body["claimed_by"] == "alice"
    body = assert_problem(anna.post(f"/api/tasks/{task_id}/complete", json={"data": {"answer": "no"}}), 409)
    assert "alice" in body["detail"]
    assert alice.get(f"/api/tasks/{task_id}").get_json()["status"] == "ready"

    # scopes: the claimer has it in 'claimed' and 'mine'; the colleague sees it only under 'all'
    assert alice.get("/api/tasks?scope=claimed").get_json()["total"] == 1
    assert alice.get("/api/tasks?scope=mine").get_json()["total"] == 1
    assert anna.get("/api/tasks?scope=claimed").get_json()["total"] == 0
    assert anna.get("/api/tasks?scope=unassigned").get_json()["total"] == 0
    assert anna.get("/api/tasks?scope=all").get_json()["total"] == 1

    r = alice.post(f"/api/tasks/{task_id}/unclaim")
    assert r.status_code == 200 and r.get_json()["claimed_by"] is None
    r = anna.post(f"/api/tasks/{task_id}/claim")
    assert r.status_code == 200 and r.get_json()["claimed_by"] == "anna"
    done = anna.post(f"/api/tasks/{task_id}/complete", json={"data": {"answer": "no"}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"

    actions = [(e["action"], e["actor"]) for e in alice.get(f"/api/cases/{case['id']}/history").get_json()
               if e["action"].startswith("task.") and e["action"] != "task.ready"]
    assert actions == [("task.claimed", "alice"), ("task.unclaimed", "alice"), ("task.claimed", "anna"),
                       ("task.completed", "anna")]
    assert alice.get(f"/api/tasks/{task_id}").get_json()["completed_by"] == "anna"


def test_assign_by_coordinator_gives_the_claim(api):
    carol = api.client("coordinator")
    case = api.start("applicant_a")
    task_id = case["tasks"][0]["id"]
    r = carol.post(f"/api/tasks/{task_id}/assign", json={"username": "anna"})
    assert r.status_code == 200 and r.get_json()["claimed_by"] == "anna"
    assert_problem(api.client("applicant_a").post(f"/api/tasks/{task_id}/complete",
                                                  json={"data": {"answer": "yes"}}), 409)
    # an applicant of another organisation, or an unknown user, cannot be given it
    for username in ("bob", "nobody"):
        body = assert_problem(carol.post(f"/api/tasks/{task_id}/assign", json={"username": username}), 422)
        assert [e["field"] for e in body["errors"]] == ["/username"]
    assert api.client("applicant_a2").post(f"/api/tasks/{task_id}/complete",
                                           json={"data": {"answer": "yes"}}).status_code == 200


def test_simultaneous_claims_one_wins(api):
    case = api.start("applicant_a")
    task_id = case["tasks"][0]["id"]
    clients = {"alice": api.client("applicant_a"), "anna": api.client("applicant_a2")}
    barrier = threading.Barrier(len(clients))
    results: dict[str, tuple[int, dict]] = {}

    def claim(name):
        barrier.wait()
        r = clients[name].post(f"/api/tasks/{task_id}/claim")
        results[name] = (r.status_code, r.get_json())

    threads = [threading.Thread(target=claim, args=(name,)) for name in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(status for status, _ in results.values()) == [200, 409], results
    [winner] = [name for name, (status, _) in results.items() if status == 200]
    [loser] = [name for name, (status, _) in results.items() if status == 409]
    assert results[winner][1]["claimed_by"] == winner
    assert results[loser][1]["claimed_by"] == winner
    assert clients[loser].get(f"/api/tasks/{task_id}").get_json()["claimed_by"] == winner
    history = clients[winner].get(f"/api/cases/{case['id']}/history").get_json()
    assert [e["actor"] for e in history if e["action"] == "task.claimed"] == [winner]
