"""Whole accreditation cases of the shipped diagrams, driven through the engine API with the clock moved:
the happy path to award, every decision branch, deadlines, and the maintenance phase."""
from __future__ import annotations

import pytest

from engine.errors import Forbidden, NotFound

from .forms_data import form


def to_desk_review(d):
    """Eligibility approved and documents submitted: the coordinator's desk review is ready."""
    case = d.start("accreditation")
    d.do(case.id, "eligibility_application", "alice")
    d.do(case.id, "eligibility_review", "carol")
    d.do(case.id, "compliance_application", "alice")
    assert d.ready_ids(case.id) == ["desk_review"]
    return case


def to_team_review(d, case):
    d.do(case.id, "desk_review", "carol")
    d.do(case.id, "schedule_inspection", "carol")
    d.do(case.id, "confirm_inspection_dates", "alice")
    d.do(case.id, "assign_inspectors", "carol")
    coi = [t for t in d.ready(case.id) if t.element_id == "declare_conflict_of_interest"]
    assert sorted(t.assignee for t in coi) == ["insp.lead", "insp2"]
    d.do(case.id, "declare_conflict_of_interest", "lead")
    d.do(case.id, "declare_conflict_of_interest", "insp2")
    assert d.ready_ids(case.id) == ["review_inspection_team"]


def to_committee(d, case, citations=None):
    to_team_review(d, case)
    d.do(case.id, "review_inspection_team", "alice")
    assert d.ready_ids(case.id) == ["inspection_checklist", "inspection_checklist"]
    d.do(case.id, "inspection_checklist", "lead")
    d.do(case.id, "inspection_checklist", "insp2")
    d.do(case.id, "inspection_report", "lead", citations=citations or [])
    assert d.ready_ids(case.id) == ["committee_decision"]


def awarded(d):
    case = to_desk_review(d)
    to_committee(d, case)
    return d.do(case.id, "committee_decision", "cody")


def test_happy_path_to_award(drive):
    case = awarded(drive)
    assert case.status == "running" and case.tasks == []
    assert case.data["certificate_number"].startswith("ACC-")
    assert case.data["surveillance_interval"] == "P12M"
    completed = [e["element_id"] for e in drive.actions(case.id, "task.completed")]
    assert completed[:3] == ["eligibility_application", "eligibility_review", "compliance_application"]
    assert completed[-1] == "committee_decision"
    # the maintenance phase waits on timers: surveillance, anniversary, renewal, expiry
    assert drive.engine.next_timer_due() is not None


def test_eligibility_information_loop_then_reject(drive):
    case = drive.start("accreditation")
    drive.do(case.id, "eligibility_application", "alice")
    drive.do(case.id, "eligibility_review", "carol", eligibility_decision="request_info",
             eligibility_comment="Please give the membership number")
    assert drive.ready_ids(case.id) == ["eligibility_application"]
    drive.do(case.id, "eligibility_application", "alice")
    case = drive.do(case.id, "eligibility_review", "carol", eligibility_decision="reject",
                    eligibility_comment="Not a member")
    assert (case.status, case.outcome) == ("completed", "ended_rejected")
    # a terminate end event is not a message: nothing else was started
    assert drive.workspace.list_cases(drive.people["carol"]).total == 1


def test_eligibility_dmn_recommends(drive):
    case = drive.start("accreditation")
    case = drive.do(case.id, "eligibility_application", "alice", months_in_operation=3)
    assert case.data["eligibility_recommendation"] == "not_eligible"
    case2 = drive.start("accreditation")
    case2 = drive.do(case2.id, "eligibility_application", "alice")
    assert case2.data["eligibility_recommendation"] == "eligible"


def test_rfi_loop_with_reminder_and_escalation(drive):
    case = to_desk_review(drive)
    drive.do(case.id, "desk_review", "carol", desk_review_outcome="rfi", rfi_questions="Send the CV of the director")
    [rfi] = drive.ready(case.id)
    assert rfi.element_id == "rfi_response" and rfi.due_at == drive.now() + __import__("datetime").timedelta(days=30)
    drive.later(days=21, hours=1)
    assert any(e["action"] == "timer.fired" for e in drive.engine.history(case.id)[-5:])
    assert drive.ready_ids(case.id) == ["rfi_response"]
    drive.later(days=9)
    assert drive.ready_ids(case.id) == ["rfi_escalation", "rfi_response"]
    assert drive.task(case.id, "rfi_response").overdue
    drive.do(case.id, "rfi_escalation", "carol")
    drive.do(case.id, "rfi_response", "alice")
    assert drive.ready_ids(case.id) == ["desk_review"]
    drive.do(case.id, "desk_review", "carol")
    assert drive.ready_ids(case.id) == ["schedule_inspection"]


def test_application_lapses_after_twelve_months(drive):
    case = drive.start("accreditation")
    drive.do(case.id, "eligibility_application", "alice")
    drive.do(case.id, "eligibility_review", "carol")
    drive.later(days=340)  # reminder (11 months) fired, still open
    assert drive.ready_ids(case.id) == ["compliance_application"]
    assert drive.actions(case.id, "timer.fired")
    drive.later(days=30)
    case = drive.case(case.id)
    assert (case.status, case.outcome) == ("completed", "ended_lapsed")


def test_declined_dates_and_conflict_of_interest_send_back(drive):
    case = to_desk_review(drive)
    drive.do(case.id, "desk_review", "carol")
    drive.do(case.id, "schedule_inspection", "carol")
    drive.do(case.id, "confirm_inspection_dates", "alice", dates_confirmed=False, dates_comment="We are closed")
    assert drive.ready_ids(case.id) == ["schedule_inspection"]
    drive.do(case.id, "schedule_inspection", "carol")
    drive.do(case.id, "confirm_inspection_dates", "alice")
    drive.do(case.id, "assign_inspectors", "carol")
    with pytest.raises(Forbidden):  # insp2 cannot declare for the team leader
        drive.engine.complete_task(drive.task(case.id, "declare_conflict_of_interest", "lead").id,
                                   drive.people["insp2"], form("declare_conflict_of_interest"))
    drive.do(case.id, "declare_conflict_of_interest", "lead", conflict_of_interest=True,
             coi_details="I consulted for this lab")
    drive.do(case.id, "declare_conflict_of_interest", "insp2")
    assert drive.ready_ids(case.id) == ["assign_inspectors"]


def test_team_objection_and_silence_after_five_days(drive):
    case = to_desk_review(drive)
    to_team_review(drive, case)
    drive.do(case.id, "review_inspection_team", "alice", team_objection=True, objection_reason="Competitor")
    assert drive.ready_ids(case.id) == ["assign_inspectors"]
    drive.do(case.id, "assign_inspectors", "carol")
    drive.do(case.id, "declare_conflict_of_interest", "lead")
    drive.do(case.id, "declare_conflict_of_interest", "insp2")
    drive.later(days=5, hours=1)  # no objection within 5 days: the inspection goes ahead
    assert drive.ready_ids(case.id) == ["inspection_checklist", "inspection_checklist"]


def test_corrections_verified_after_a_second_round(drive):
    case = to_desk_review(drive)
    to_committee(drive, case, citations=[{"standard": "B5.1", "finding": "Labels unclear", "severity": "major"}])
    # no correction_deadline given: the diagram's default (30 days) applies
    drive.do(case.id, "committee_decision", "cody", decision="grant_pending_corrections")
    drive.do(case.id, "corrective_action_plan", "alice")
    drive.do(case.id, "verify_corrections", "carol", verification="more_needed",
             verification_comment="Evidence missing")
    assert drive.ready_ids(case.id) == ["corrective_action_plan"]
    drive.later(days=31)  # late: the coordinator is escalated to, the plan stays open
    assert drive.ready_ids(case.id) == ["capa_escalation", "corrective_action_plan"]
    drive.do(case.id, "capa_escalation", "carol")
    drive.do(case.id, "corrective_action_plan", "alice")
    case = drive.do(case.id, "verify_corrections", "carol", verification="accepted")
    assert case.data["certificate_number"] and case.tasks == []
    assert case.data["surveillance_interval"] == "P6M"  # DMN: major citation → shorter interval


def test_defer_without_appeal_returns_to_desk_review(drive):
    case = to_desk_review(drive)
    to_committee(drive, case)
    drive.do(case.id, "committee_decision", "cody", decision="defer", decision_reason="Need validation data")
    drive.do(case.id, "consider_appeal", "alice", appeal=False)
    assert drive.ready_ids(case.id) == ["desk_review"]


def test_deny_appeal_dismissed_by_a_panel_member_not_in_the_decision(drive):
    case = to_desk_review(drive)
    to_committee(drive, case)
    drive.do(case.id, "committee_decision", "cody", decision="deny", decision_reason="Critical deficiencies")
    drive.do(case.id, "consider_appeal", "alice", appeal=True, appeal_grounds="The inspection missed our SOP")
    drive.do(case.id, "acknowledge_appeal", "carol")
    with pytest.raises(Forbidden, match="separation of duties"):
        drive.do(case.id, "appeal_decision", "cody")
    case = drive.do(case.id, "appeal_decision", "cleo", appeal_outcome="dismissed")
    assert (case.status, case.outcome) == ("completed", "ended_denied")


def test_appeal_upheld_goes_back_to_the_committee(drive):
    case = to_desk_review(drive)
    to_committee(drive, case)
    drive.do(case.id, "committee_decision", "cody", decision="deny", decision_reason="Critical deficiencies")
    drive.do(case.id, "consider_appeal", "alice", appeal=True, appeal_grounds="Wrong standard applied")
    drive.do(case.id, "acknowledge_appeal", "carol")
    drive.do(case.id, "appeal_decision", "cleo", appeal_outcome="upheld")
    assert drive.ready_ids(case.id) == ["committee_decision"]


def test_deny_without_appeal_in_thirty_days_ends(drive):
    case = to_desk_review(drive)
    to_committee(drive, case)
    drive.do(case.id, "committee_decision", "cody", decision="deny", decision_reason="Critical deficiencies")
    drive.later(days=30, hours=1)
    case = drive.case(case.id)
    assert (case.status, case.outcome) == ("completed", "ended_denied")


def test_role_refusals_on_the_real_process(drive):
    case = drive.start("accreditation")
    task = drive.task(case.id, "eligibility_application")
    for who in ("carol", "cody"):  # staff see the case but hold another lane's role
        with pytest.raises(Forbidden):
            drive.engine.complete_task(task.id, drive.people[who], form("eligibility_application"))
    for who in ("lead", "bob"):  # not on the case / another laboratory: told nothing about it
        with pytest.raises(NotFound):
            drive.engine.complete_task(task.id, drive.people[who], form("eligibility_application"))
    with pytest.raises(Forbidden):
        drive.start("accreditation", who="carol")
