"""The inbox over HTTP: scopes, sorting, pagination with totals, and overdue tasks as the clock moves."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import time_machine

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)


def _ids(response):
    assert response.status_code == 200, response.get_json()
    return [t["id"] for t in response.get_json()["items"]]


def _reviews(api, n):
    """n two_step cases answered 'yes': n 'review' tasks in the coordinators' inbox."""
    alice = api.client("applicant_a")
    tasks = []
    for _ in range(n):
        case = api.start("applicant_a")
        r = alice.post(f"/api/tasks/{case['tasks'][0]['id']}/complete", json={"data": {"answer": "yes"}})
        tasks.append(r.get_json()["id"])
    return [api.task({"id": c}, "review")["id"] for c in tasks]


def test_scopes(api):
    a, b, c = _reviews(api, 3)
    carol, chris = api.client("coordinator"), api.client("coordinator2")
    assert carol.post(f"/api/tasks/{a}/claim").status_code == 200
    assert carol.post(f"/api/tasks/{b}/assign", json={"username": "chris"}).status_code == 200

    assert sorted(_ids(carol.get("/api/tasks?scope=all"))) == sorted([a, b, c])
    assert _ids(carol.get("/api/tasks?scope=mine")) == [a]
    assert _ids(carol.get("/api/tasks?scope=claimed")) == [a]
    assert _ids(carol.get("/api/tasks?scope=unassigned")) == [c]
    assert _ids(chris.get("/api/tasks?scope=mine")) == [b]
    assert _ids(chris.get("/api/tasks?scope=claimed")) == [b]
    assert _ids(chris.get("/api/tasks?scope=unassigned")) == [c]
    assert carol.get("/api/tasks").get_json()["total"] == 3  # default scope: all
    # the role filter: the coordinators hold no applicant tasks
    assert carol.get("/api/tasks?role=applicant").get_json()["total"] == 0
    assert carol.get("/api/tasks?role=coordinator").get_json()["total"] == 3
    assert carol.get("/api/tasks?process=two_step").get_json()["total"] == 3
    assert carol.get("/api/tasks?process=deadline").get_json()["total"] == 0


def test_sort_by_priority_and_created(api):
    with time_machine.travel(T0, tick=False) as clock:
        ids = {}
        for key in ("two_step", "prio_high", "prio_low"):  # created in this order, a minute apart
            ids[key] = api.start("applicant_a", key)["tasks"][0]["id"]
            clock.shift(timedelta(minutes=1))
    alice = api.client("applicant_a")
    assert _ids(alice.get("/api/tasks?sort=priority")) == [ids["prio_high"], ids["prio_low"], ids["two_step"]]
    assert [t["priority"] for t in alice.get("/api/tasks?sort=priority").get_json()["items"]] == [9, 1, 0]
    assert _ids(alice.get("/api/tasks?sort=created")) == [ids["two_step"], ids["prio_high"], ids["prio_low"]]
    assert _ids(alice.get("/api/tasks?sort=-created")) == [ids["prio_low"], ids["prio_high"], ids["two_step"]]


def test_sort_by_due_date_puts_undated_last(api):
    with time_machine.travel(T0, tick=False) as clock:
        undated = api.start("applicant_a", "two_step")["tasks"][0]["id"]
        late = api.start("applicant_a", "deadline")["tasks"][0]  # due T0 + 3 days
        clock.shift(timedelta(days=-1))
        early = api.start("applicant_a", "deadline")["tasks"][0]  # due T0 + 2 days
    assert datetime.fromisoformat(late["due_at"]) == T0 + timedelta(days=3)
    assert datetime.fromisoformat(early["due_at"]) == T0 + timedelta(days=2)
    alice = api.client("applicant_a")
    assert _ids(alice.get("/api/tasks?sort=due")) == [early["id"], late["id"], undated]
    assert _ids(alice.get("/api/tasks?sort=-due")) == [late["id"], early["id"], undated]


def test_pagination(api):
    for _ in range(5):
        api.start("applicant_a")
    alice = api.client("applicant_a")
    pages = []
    for page in (1, 2, 3):
        body = alice.get(f"/api/tasks?per_page=2&page={page}&sort=created").get_json()
        assert (body["total"], body["page"], body["per_page"]) == (5, page, 2)
        pages.append([t["id"] for t in body["items"]])
    assert [len(p) for p in pages] == [2, 2, 1]
    everything = _ids(alice.get("/api/tasks?per_page=200&sort=created"))
    assert sum(pages, []) == everything and len(set(everything)) == 5
    beyond = alice.get("/api/tasks?per_page=2&page=4").get_json()
    assert (beyond["items"], beyond["total"]) == ([], 5)
    cases = alice.get("/api/cases?per_page=3&page=2").get_json()
    assert (len(cases["items"]), cases["total"], cases["page"]) == (2, 5, 2)


def test_overdue_filter_follows_the_clock(api):
    alice = api.client("applicant_a")
    with time_machine.travel(T0, tick=False) as clock:
        dated = api.start("applicant_a", "deadline")["tasks"][0]["id"]
        undated = api.start("applicant_a", "two_step")["tasks"][0]["id"]
        clock.shift(timedelta(days=2))
        api.services.engine.fire_due_timers()  # the reminder (P1D) fires; the task stays, not yet overdue
        assert _ids(alice.get("/api/tasks?overdue=true")) == []
        assert sorted(_ids(alice.get("/api/tasks?overdue=false"))) == sorted([dated, undated])
        assert alice.get(f"/api/tasks/{dated}").get_json()["overdue"] is False
        clock.shift(timedelta(days=1, minutes=1))  # past the deadline; the deadline timer has not fired yet
        assert _ids(alice.get("/api/tasks?overdue=true")) == [dated]
        assert _ids(alice.get("/api/tasks?overdue=false")) == [undated]
        [item] = alice.get("/api/tasks?overdue=true").get_json()["items"]
        assert item["overdue"] is True
        # once the deadline timer fires, the task is cancelled and leaves the inbox
        api.services.engine.fire_due_timers()
        assert _ids(alice.get("/api/tasks?overdue=true")) == []
        case = api.client("coordinator").get(f"/api/cases/{item['case_id']}").get_json()
        assert (case["status"], case["outcome"]) == ("completed", "ended_lapsed")


def test_inbox_items_carry_their_case_business_key(api):
    [review] = _reviews(api, 1)
    carol = api.client("coordinator")
    [item] = carol.get("/api/tasks").get_json()["items"]
    case = carol.get(f"/api/cases/{item['case_id']}").get_json()
    assert item["id"] == review and item["business_key"] == case["business_key"]
