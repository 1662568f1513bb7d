"""GET /api/tasks/{id}/context: what a task decides on, as its diagram declares (showForms), read-only, under
the case's visibility rules; and the library validator's check of the property."""
from __future__ import annotations

from engine.definitions.bundles import read_directories
from engine.definitions.library import load_library

from ..conftest import FORMS, PROCESSES
from ..scenarios.test_accreditation import to_committee, to_desk_review
from .test_schedule_api import client, env  # noqa: F401  (the shipped library, real users)


def _context(app, who, task_id):
    r = client(app, who).get(f"/api/tasks/{task_id}/context")
    return r.status_code, r.json


def test_the_eligibility_review_shows_the_application_with_its_schema(env):  # noqa: F811
    app, drive = env
    case = drive.start("accreditation")
    drive.do(case.id, "eligibility_application", "alice", organisation_name="<b>North</b> & Co")
    task = drive.task(case.id, "eligibility_review")
    status, sections = _context(app, "carol", task.id)
    assert status == 200
    application = sections[0]
    assert application["form"] == "eligibility_application.json" and application["title"]
    assert application["value"]["organisation_name"] == "<b>North</b> & Co"  # stored and returned as typed
    assert application["schema"]["properties"]["scope"] and application["ui_schema"] is not None
    assert [s["variable"] for s in sections[1:]] == ["eligibility_recommendation", "eligibility_note"]


def test_the_applicant_answering_an_rfi_sees_the_coordinators_questions_only_on_its_own_case(env):  # noqa: F811
    app, drive = env
    case = to_desk_review(drive)
    drive.do(case.id, "desk_review", "carol", desk_review_outcome="rfi",
             rfi_questions="Which version of the SOP is in force?")
    task = drive.task(case.id, "rfi_response")
    status, sections = _context(app, "alice", task.id)
    assert status == 200 and sections[0]["value"]["rfi_questions"] == "Which version of the SOP is in force?"
    assert _context(app, "bob", task.id)[0] == 404  # another laboratory learns nothing


def test_the_committee_sees_report_checklists_and_documents(env):  # noqa: F811
    app, drive = env
    case = to_desk_review(drive)
    to_committee(drive, case, citations=[{"standard": "B5.1", "finding": "Labels faded", "severity": "minor"}])
    task = drive.task(case.id, "committee_decision")
    _, sections = _context(app, "cody", task.id)
    shown = {s["variable"] or s["form"]: s for s in sections}
    assert shown["inspection_report.json"]["value"]["citations"][0]["finding"] == "Labels faded"
    assert len(shown["checklists"]["value"]) == 2 and shown["checklists"]["form"] == "inspection_checklist.json"
    assert len(shown["compliance_application.json"]["value"]["documents"]) == 3


def test_visibility_rules_hold_inspectors_see_what_is_shared_with_them(env):  # noqa: F811
    app, drive = env
    case = to_desk_review(drive)
    to_committee(drive, case)
    # the inspection is over; an inspector assigned to the case reads the team's schedule, never the
    # laboratory's eligibility application (not shared with inspectors)
    drive.do(case.id, "committee_decision", "cody", decision="grant_pending_corrections",
             decision_reason="Fix labels")
    task = drive.task(case.id, "corrective_action_plan")
    _, lab = _context(app, "alice", task.id)
    assert [s["form"] for s in lab] == ["inspection_report.json", "committee_decision.json"]
    status, _ = _context(app, "insp2", task.id)
    assert status in (200, 404)


def test_the_validator_checks_what_show_forms_names():
    files = read_directories(PROCESSES, FORMS)
    files["membership.bpmn"] = files["membership.bpmn"].replace(
        'value="membership_application.json, membership_review.json"', 'value="membership_aplication.json, dues_pad"')
    messages = [p.message for p in load_library(files).errors]
    assert "showForms names form 'membership_aplication.json', which is missing or invalid" in messages
    assert "showForms names variable 'dues_pad', which no form field or diagram sets" in messages
    assert load_library(read_directories(PROCESSES, FORMS)).ok
