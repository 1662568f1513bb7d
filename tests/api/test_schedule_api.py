"""GET /api/schedule, GET /api/notifications and POST /api/audits/for-cause over real HTTP."""
from __future__ import annotations

import pytest

from tests.apps import make_app

from ..scenarios.harness import PEOPLE, Driver, create_people, traveller
from ..scenarios.test_accreditation import awarded

PASSWORD = "correct-horse-battery"


@pytest.fixture
def env(tmp_path):
    with traveller() as clock:
        app = make_app({"DATABASE_URL": f"sqlite:///{tmp_path}/schedule.sqlite", "DEPLOY_SHIPPED": True,
                          "ATTACHMENTS_DIR": str(tmp_path / "files"), "SECRET_KEY": "test"})
        svc = app.extensions["accredit"]
        create_people(svc.identity, PASSWORD, {"lab-a": "Lab A", "lab-b": "Lab B"})
        svc.identity.create_user("audrey", PASSWORD, ["auditor"])
        yield app, Driver(svc.engine, svc.workspace, clock)


def client(app, username):
    c = app.test_client()
    assert c.post("/api/session", json={"username": username, "password": PASSWORD}).status_code == 200
    c.environ_base["HTTP_SEC_FETCH_SITE"] = "same-origin"  # as a browser on this site (CSRF check)
    return c


def test_schedule_shows_what_is_coming_to_those_who_may_see_it(env):
    app, drive = env
    case = awarded(drive)
    rows = client(app, "carol").get("/api/schedule").json
    kinds = {r["kind"] for r in rows if r["case_id"] == case.id}
    assert {"surveillance_audit", "annual_report", "renewal", "expiry"} <= kinds
    expiry = next(r for r in rows if r["kind"] == "expiry")
    assert expiry["due_at"].startswith("2030-01-04")  # 36 months after the award
    assert [r["due_at"] for r in rows] == sorted(r["due_at"] for r in rows)
    only = client(app, "audrey").get("/api/schedule?kind=renewal").json
    assert [r["kind"] for r in only] == ["renewal"]
    assert client(app, "alice").get("/api/schedule").json  # its own laboratory
    assert client(app, "bob").get("/api/schedule").json == []  # another laboratory sees nothing
    assert client(app, "bob").get("/api/schedule?organisation_id=lab-a").status_code == 403
    window = client(app, "carol").get("/api/schedule?since=2028-01-01T00:00:00Z&until=2028-02-01T00:00:00Z").json
    assert window and all(r["due_at"] < "2028-02-01" for r in window)


def test_for_cause_audit_started_by_a_coordinator_only(env):
    app, drive = env
    case = awarded(drive)
    body = {"organisation_id": "lab-a", "reason": "complaint about labelling"}
    assert client(app, "alice").post("/api/audits/for-cause", json=body).status_code == 403
    r = client(app, "carol").post("/api/audits/for-cause", json=body)
    assert r.status_code == 201, r.json
    assert r.json["process_key"] == "surveillance_audit"
    assert [t["element_id"] for t in r.json["tasks"]] == ["plan_surveillance_audit"]
    assert client(app, "carol").post("/api/audits/for-cause", json={"organisation_id": "lab-a"}).status_code == 422
    # linked to the laboratory's accreditation as one its change notification starts
    audit = client(app, "carol").get(f"/api/cases/{r.json['id']}").json
    accreditation = client(app, "carol").get(f"/api/cases/{case.id}").json
    assert audit["parent_case_id"] == case.id
    for key in ("certificate_number", "scope", "organisation_name"):
        assert audit["data"][key] == accreditation["data"][key] and audit["data"][key], key
    assert audit["data"]["accreditation_case_id"] == case.id
    # the laboratory sees its audit linked to its accreditation
    assert client(app, "alice").get(f"/api/cases/{r.json['id']}").json["parent_case_id"] == case.id


def test_a_for_cause_audit_of_an_organisation_with_no_accreditation_is_refused(env):
    app, drive = env
    r = client(app, "carol").post("/api/audits/for-cause", json={"organisation_id": "lab-b", "reason": "complaint"})
    assert r.status_code == 422 and r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json["detail"] == "Lab B has no accreditation to audit"
    assert [e["field"] for e in r.json["errors"]] == ["/organisation_id"]
    awarded(drive)  # lab-a's accreditation does not make lab-b auditable
    r = client(app, "carol").post("/api/audits/for-cause", json={"organisation_id": "lab-b", "reason": "complaint"})
    assert r.status_code == 422 and "Lab B has no accreditation" in r.json["detail"]
    r = client(app, "carol").post("/api/audits/for-cause", json={"organisation_id": "lab-b", "reason": "complaint",
                                                                 "accreditation_case_id": "no-such-case"})
    assert r.status_code == 422 and [e["field"] for e in r.json["errors"]] == ["/accreditation_case_id"]
    assert client(app, "carol").get("/api/cases?process=surveillance_audit").json["total"] == 0


def test_reminder_notification_reaches_the_applicant(env):
    app, drive = env
    from ..scenarios.test_accreditation import to_desk_review

    case = to_desk_review(drive)
    drive.do(case.id, "desk_review", "carol", desk_review_outcome="rfi", rfi_questions="Send the CV")
    drive.later(days=22)
    notes = client(app, "alice").get("/api/notifications").json
    assert len(notes) == 1 and notes[0]["kind"] == "reminder" and notes[0]["case_id"] == case.id
    assert client(app, "bob").get("/api/notifications").json == []


def test_a_timer_on_a_multi_instance_step_says_what_it_is_about(env):
    """The inspectors' 'Late' timer sits on the checklist step as a whole (one task per inspector): the row
    names the step and the inspectors, and gives no task id (no single task page to open)."""
    from ..scenarios.test_accreditation import to_desk_review, to_team_review
    app, drive = env
    case = to_desk_review(drive)
    to_team_review(drive, case)
    drive.do(case.id, "review_inspection_team", "alice")
    rows = [r for r in client(app, "carol").get("/api/schedule").json if r["case_id"] == case.id]
    tasks = {t["id"] for t in client(app, "carol").get("/api/tasks?per_page=100").json["items"]}
    late = [r for r in rows if r["task_id"] is None and r["activity_name"]]
    assert late, rows
    row = late[0]
    assert row["name"] == "Late" and row["activity_name"] == "Complete inspection checklist"
    assert row["task_count"] == 2 and row["role"] == "inspector"
    assert row["people"] == sorted([PEOPLE["lead"].username, PEOPLE["insp2"].username])
    # the open checklists are due when this timer fires: it is their deadline, not a reminder
    assert row["kind"] == "task_deadline"
    # every task id the schedule gives opens a task
    assert all(r["task_id"] in tasks for r in rows if r["task_id"]), (rows, tasks)
