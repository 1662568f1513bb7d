"""After award: surveillance audits and annual reports as linked cases at the drawn intervals, change
notifications, for-cause audits, renewal six months before expiry, and expiry — a full three-year cycle."""
from __future__ import annotations

from .test_accreditation import awarded


def drive_audit(d, audit_id, outcome="satisfactory"):
    d.do(audit_id, "plan_surveillance_audit", "carol")
    d.do(audit_id, "inspection_checklist", "lead")  # the plan's team: the team leader alone
    d.do(audit_id, "inspection_report", "lead")
    return d.do(audit_id, "review_surveillance_findings", "carol", audit_outcome=outcome)


def test_surveillance_audit_and_annual_report_open_on_their_due_dates(drive):
    case = awarded(drive)
    drive.later(days=364)
    assert drive.linked(case.id) == []
    drive.later(days=3)
    [audit] = drive.linked(case.id, "surveillance_audit")
    [report] = drive.linked(case.id, "annual_report")
    assert audit.organisation_id == "lab-a" and audit.parent_case_id == case.id
    audit = drive_audit(drive, audit.id)
    assert audit.status == "completed"
    drive.do(report.id, "submit_annual_report", "alice")
    drive.do(report.id, "review_annual_report", "carol", annual_report_outcome="more_info",
             annual_report_comment="Add adverse events")
    drive.do(report.id, "submit_annual_report", "alice")
    assert drive.do(report.id, "review_annual_report", "carol").status == "completed"


def test_surveillance_corrective_actions_loop(drive):
    case = awarded(drive)
    drive.later(days=367)
    [audit] = drive.linked(case.id, "surveillance_audit")
    drive_audit(drive, audit.id, outcome="corrective_actions_required")
    drive.do(audit.id, "surveillance_corrective_actions", "alice")
    drive.do(audit.id, "verify_surveillance_corrections", "carol", verification="more_needed",
             verification_comment="Not yet")
    drive.do(audit.id, "surveillance_corrective_actions", "alice")
    assert drive.do(audit.id, "verify_surveillance_corrections", "carol").status == "completed"


def test_change_notification_leads_to_for_cause_audit(drive):
    case = awarded(drive)
    received = drive.engine.deliver_message("change_notification",
                                            {"change_type": "relocation", "description": "New building"},
                                            drive.people["alice"], organisation_id="lab-a")
    assert received == [case.id]
    [task] = drive.ready(case.id)
    assert task.element_id == "assess_change_notification"
    assert drive.case(case.id).data["change"]["change_type"] == "relocation"
    drive.do(case.id, "assess_change_notification", "carol", change_action="for_cause_audit")
    [audit] = drive.linked(case.id, "surveillance_audit")
    assert drive.case(audit.id).data["audit_type"] == "for_cause"
    # the case still takes further notifications
    assert drive.engine.deliver_message("change_notification", {"change_type": "director"},
                                        organisation_id="lab-a") == [case.id]


def test_coordinator_starts_a_for_cause_audit(drive):
    awarded(drive)
    audit = drive.start("surveillance_audit", who="carol", data={"audit_type": "for_cause",
                                                                 "reason": "complaint received"})
    assert drive.case(audit.id).data["audit_type"] == "for_cause"
    assert drive.ready_ids(audit.id) == ["plan_surveillance_audit"]


def test_three_year_cycle_audits_renewal_and_expiry(drive):
    case = awarded(drive)
    for _ in range(29):  # month by month up to 29 months
        drive.later(days=31)
    audits = drive.linked(case.id, "surveillance_audit")
    reports = drive.linked(case.id, "annual_report")
    assert len(audits) == 2 and len(reports) == 2
    assert drive.linked(case.id, "renewal") == []
    drive.later(days=31)  # 30 months: renewal opens
    [renewal] = drive.linked(case.id, "renewal")
    assert drive.ready_ids(renewal.id) == ["compliance_application"]  # a renewal skips eligibility
    for _ in range(6):
        drive.later(days=31)
    case = drive.case(case.id)
    assert (case.status, case.outcome) == ("completed", "ended_expired")
    assert drive.engine.ready_tasks(case.id) == []
    # every audit/report is its own case: the accreditation case stays small
    assert len(drive.linked(case.id, "surveillance_audit")) in (2, 3)


def test_renewal_runs_a_new_cycle_to_award(drive):
    from .test_accreditation import to_committee

    case = awarded(drive)
    drive.later(days=30 * 31)
    [renewal] = drive.linked(case.id, "renewal")
    drive.do(renewal.id, "compliance_application", "alice")
    to_committee(drive, renewal)
    renewal = drive.do(renewal.id, "committee_decision", "cody")
    assert renewal.data["certificate_number"]


def test_three_year_cycle_driven_by_the_real_scheduler(drive):
    """The same cycle, but every wake-up comes from the APScheduler thread of the embedded scheduler."""
    from engine.scheduler import TimerScheduler

    from ..engine.test_scheduler import _run_job_now

    case = awarded(drive)
    sched = TimerScheduler(drive.engine, resync_seconds=0).start()
    try:
        wakeups = []
        while drive.case(case.id).status == "running":
            due = sched.next_wakeup()
            assert due is not None and len(wakeups) < 40
            wakeups.append(due)
            _run_job_now(sched, drive.clock, due)
        months = sorted({(w.year - 2027) * 12 + w.month - 1 for w in wakeups})
        assert {12, 24, 30, 36} <= set(months)  # audits + anniversaries, renewal, expiry
        assert drive.case(case.id).outcome == "ended_expired"
        assert len(drive.linked(case.id, "annual_report")) >= 2
    finally:
        sched.shutdown()
