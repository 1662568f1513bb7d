"""Minimal valid form submissions, one per form of the shipped library (scenario tests start from these)."""

SHA = "a" * 64

FORMS = {
    "eligibility_application": {"organisation_name": "North Cell Lab", "scope": ["collection", "processing"], "sites": [{"name": "Main", "address": "1 Lab Road, Leeds"}], "months_in_operation": 24, "membership_number": "M-0001", "membership_active": True},
    "eligibility_review": {"eligibility_decision": "approve"},
    "compliance_application": {"documents": [{"document_type": "sop", "title": "Cell processing SOP", "standard": "B5.1", "attachment_id": SHA}, {"document_type": "qms_manual", "title": "QMS manual", "standard": "B4.1", "attachment_id": SHA}, {"document_type": "staff_qualification", "title": "Director CV", "standard": "B3.1", "attachment_id": SHA}], "director_signature": {"name": "Dr Ada Lovelace", "signed": True}},
    "desk_review": {"desk_review_outcome": "complete"},
    "rfi_response": {"rfi_answer": "The revised SOP is attached."},
    "rfi_escalation": {"escalation_action": "chased_applicant"},
    "schedule_inspection": {"inspection_date": "2027-03-15", "inspection_mode": "on_site"},
    "confirm_inspection_dates": {"dates_confirmed": True},
    "assign_inspectors": {"team_leader": "insp.lead", "inspectors": ["insp2"]},
    "declare_conflict_of_interest": {"conflict_of_interest": False},
    "review_inspection_team": {"team_objection": False},
    "committee_decision": {"decision": "grant", "decision_reason": "All standards met."},
    "corrective_action_plan": {"corrective_actions": [{"citation": "B5.1 labelling", "explanation": "SOP revised", "evidence_attachment_id": SHA}]},
    "verify_corrections": {"verification": "accepted"},
    "consider_appeal": {"appeal": False},
    "acknowledge_appeal": {"appeal_acknowledged": True, "appeal_panel": ["cleo"]},
    "appeal_decision": {"appeal_outcome": "dismissed"},
    "assess_change_notification": {"change_action": "no_action"},
    "inspection_checklist": {"checklist_items": [{"item": "Cryostorage alarms", "standard": "D7.2", "compliant": True, "severity": "none"}]},
    "inspection_report": {"citations": [], "report_summary": "No citations."},
    "plan_surveillance_audit": {"team_leader": "insp.lead", "inspectors": [], "inspection_date": "2028-03-01", "inspection_mode": "virtual"},
    "review_surveillance_findings": {"audit_outcome": "satisfactory"},
    "submit_annual_report": {"report_period": {"start": "2027-01-01", "end": "2027-12-31"}, "activity_summary": "120 collections", "changes_during_period": "none", "adverse_events": "none"},
    "review_annual_report": {"annual_report_outcome": "accepted"},
    "membership_application": {"member_category": "individual", "applicant_name": "Dr Ada Lovelace", "credentials": "MD, PhD"},
    "membership_review": {"membership_decision": "approve"},
    "record_dues": {"dues_amount": 250, "dues_paid_on": "2026-06-01", "payment_reference": "INV-42"},
}


def form(name, **overrides):
    """A fresh copy of the minimal submission of ``name`` with fields overridden."""
    import copy

    data = copy.deepcopy(FORMS[name])
    data.update(overrides)
    return data
