"""The audit console's API: timelines with every filter (actor, role, event type, element, date range) and
their values, the system history for auditors and administrators, a verification that says what differs
at the first broken link, and the step metrics' access rules and errors. Real app, real SQLite file."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.storage.models import Event

from ..engine.test_audit import signed_bundle, tamper
from .conftest import assert_problem, fields_of
from .test_audit_api import signed_case

T0 = datetime(2027, 6, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def sapi(api):
    api.services.engine.deploy(signed_bundle(), deployed_by="tests")
    return api


def timeline(api, case_id, who="auditor", **query):
    r = api.client(who).get(f"/api/audit/cases/{case_id}/timeline", query_string=query)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_case_timeline_filters_by_actor_role_type_element_and_time(sapi):
    with time_machine.travel(T0, tick=False):
        case = sapi.start("applicant_a", "signed", business_key="CON-1")
    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        signed = signed_case(sapi, "CON-2")
    all_events = timeline(sapi, signed["id"])
    assert all_events["total"] == all_events["chain_length"] == len(all_events["events"]) >= 6
    assert all_events["case"]["business_key"] == "CON-2"
    facets = all_events["facets"]
    assert {"alice", "cody"} <= {a["username"] for a in facets["actors"]}
    assert {"applicant", "committee"} <= set(facets["roles"])
    assert {"case.started", "task.ready", "task.completed"} <= set(facets["actions"])
    assert {"apply", "decide"} <= {e["element_id"] for e in facets["elements"]}

    by_role = timeline(sapi, signed["id"], role="committee")["events"]
    assert by_role and {e["role"] for e in by_role} == {"committee"}
    done = timeline(sapi, signed["id"], action="task.completed", actor="cody")["events"]
    assert [(e["element_id"], e["data"]["signature"]["meaning"]) for e in done] == [("decide", "approval")]
    assert {e["element_id"] for e in timeline(sapi, signed["id"], element_id="apply")["events"]} == {"apply"}
    prefix = timeline(sapi, signed["id"], action="task.*")["events"]
    assert prefix and all(e["action"].startswith("task.") for e in prefix)
    assert timeline(sapi, case["id"], until=(T0 + timedelta(days=1)).isoformat())["total"] >= 1
    assert timeline(sapi, case["id"], since=(T0 + timedelta(days=1)).isoformat())["total"] == 0
    paged = timeline(sapi, signed["id"], per_page=2, page=2)
    assert [e["seq"] for e in paged["events"]] == [3, 4] and paged["total_pages"] >= 3


def test_case_timeline_follows_case_visibility_and_rejects_bad_filters(sapi):
    case = signed_case(sapi)
    url = f"/api/audit/cases/{case['id']}/timeline"
    assert sapi.client("applicant_a").get(url).status_code == 200  # read-only for whoever may see the case
    assert_problem(sapi.client("applicant_b").get(url), 404)
    assert_problem(sapi.client().get(url), 401)
    empty = assert_problem(sapi.client("auditor").get(url, query_string={"since": "2027-01-02T00:00:00Z",
                                                                          "until": "2027-01-01T00:00:00Z"}), 422)
    assert fields_of(empty) == {"/until"}
    assert fields_of(assert_problem(sapi.client("auditor").get(url, query_string={"since": "yesterday"}), 422)) \
        == {"/since"}


def test_system_timeline_is_for_auditors_and_administrators(sapi):
    sapi.client("coordinator", via="session")  # a sign-in: a system event
    r = sapi.client("auditor").get("/api/audit/system/timeline", query_string={"action": "login"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] >= 1 and {e["action"] for e in body["events"]} == {"login"}
    assert "login" in body["facets"]["actions"]
    assert sapi.client("admin").get("/api/audit/system/timeline").status_code == 200
    for who in ("coordinator", "applicant_a", "quality_manager"):
        assert_problem(sapi.client(who).get("/api/audit/system/timeline"), 403)
    verdict = sapi.client("auditor").get("/api/audit/system/verify").get_json()
    assert verdict["ok"] is True and verdict["head"]["seq"] >= 1


def test_verify_says_what_differs_when_content_was_edited(sapi):
    case = signed_case(sapi)
    url = f"/api/audit/cases/{case['id']}/verify"
    ok = sapi.client("auditor").get(url).get_json()
    assert ok["ok"] is True and ok["first_broken"] is None and len(ok["head"]["hash"]) == 64
    tamper(sapi.services.db, ("UPDATE event SET actor = 'mallory' WHERE case_id = :c AND seq = 3",
                              {"c": case["id"]}))
    broken = sapi.client("auditor").get(url).get_json()
    assert broken["ok"] is False and broken["first_broken"]["seq"] == 3
    [diff] = broken["first_broken"]["differs"]
    assert diff["field"] == "hash" and diff["expected"] != diff["found"]
    assert "content was edited" in diff["note"]
    assert broken["first_broken"]["event"]["actor"] == "mallory"
    # an anchor from the intact run still matches: the head itself was not touched
    anchored = sapi.client("auditor").get(url, query_string={"anchor": f"{ok['head']['seq']}:{ok['head']['hash']}"})
    assert anchored.status_code == 200
    assert fields_of(assert_problem(sapi.client("auditor").get(url, query_string={"anchor": "x"}), 422)) \
        == {"/anchor"}


def test_verify_says_what_differs_when_an_event_was_deleted_or_a_hash_replaced(sapi):
    case = signed_case(sapi)
    other = signed_case(sapi, "CON-DEL")
    url = f"/api/audit/cases/{case['id']}/verify"
    tamper(sapi.services.db, ("UPDATE event SET hash = :h WHERE case_id = :c AND seq = 2",
                              {"h": "0" * 64, "c": case["id"]}),
           ("DELETE FROM event WHERE case_id = :c AND seq = 2", {"c": other["id"]}))
    broken = sapi.client("auditor").get(url).get_json()["first_broken"]
    assert broken["seq"] == 2
    assert broken["differs"][0]["found"] == "0" * 64 and "stored hash itself was edited" in broken["differs"][0]["note"]

    gap = sapi.client("auditor").get(f"/api/audit/cases/{other['id']}/verify").get_json()["first_broken"]
    assert gap["seq"] == 3
    fields = {d["field"]: d for d in gap["differs"]}
    assert fields["seq"]["expected"] == 2 and fields["seq"]["found"] == 3
    assert "prev_hash" in fields
    with sapi.services.db.read() as s:
        first = s.scalar(sa.select(Event.hash).where(Event.case_id == other["id"], Event.seq == 1))
    assert fields["prev_hash"]["expected"] == first


def test_step_metrics_over_http(sapi):
    signed_case(sapi)
    r = sapi.client("quality_manager").get("/api/metrics/steps", query_string={"process": "signed"})
    assert r.status_code == 200, r.get_json()
    steps = {s["element_id"]: s for s in r.get_json()["steps"]}
    assert steps["apply"]["completed"] == steps["decide"]["completed"] == 1
    assert r.get_json()["definition"]["version"] == 1
    for who in ("auditor", "coordinator"):
        assert sapi.client(who).get("/api/metrics/steps?process=signed").status_code == 200
    for who in ("applicant_a", "inspector", "committee"):
        assert_problem(sapi.client(who).get("/api/metrics/steps?process=signed"), 403)
    assert_problem(sapi.client("auditor").get("/api/metrics/steps?process=nothing"), 404)
    assert fields_of(assert_problem(sapi.client("auditor").get("/api/metrics/steps"), 422)) == {"/process"}
