"""What each side may read of a case's data, as drawn in the diagrams (lanes, shareWith, shareVariables):
a laboratory never reads inspectors' conflict-of-interest declarations or checklists; inspectors read the
documents they inspect but not the committee's deliberation."""
from __future__ import annotations

from .test_accreditation import awarded


def test_each_side_reads_only_what_the_diagram_shares_with_it(drive):
    case = awarded(drive)
    people = drive.people
    staff = drive.workspace.case_for(people["carol"], case.id).data
    assert {"coi_declarations", "checklists", "decision", "documents", "certificate_number"} <= set(staff)

    lab = drive.workspace.case_for(people["alice"], case.id).data
    assert {"documents", "decision", "decision_reason", "certificate_number", "team_leader"} <= set(lab)
    assert not {"coi_declarations", "conflict_of_interest", "coi_details", "checklists", "checklist_items"} & set(lab)

    inspector = drive.workspace.case_for(people["lead"], case.id).data
    assert {"documents", "inspection_date", "citations"} <= set(inspector)
    assert not {"decision_reason", "eligibility_comment"} & set(inspector)


def test_history_shows_a_laboratory_only_the_submissions_shared_with_it(drive):
    from engine.reports.audit import Audit

    case = awarded(drive)
    audit = Audit(drive.engine.db, engine=drive.engine)

    def submitted(actor_key, element):
        events = audit.history(drive.people[actor_key], case.id, action="task.completed", element_id=element).items
        return [e["data"] for e in events]

    [coi_for_lab] = submitted("alice", "declare_conflict_of_interest")[:1]
    assert coi_for_lab["submitted"] == {} and coi_for_lab["redacted"] is True
    staff_view = submitted("carol", "declare_conflict_of_interest")[0]
    assert "conflict_of_interest" in staff_view["submitted"] and "redacted" not in staff_view
    [decision] = submitted("alice", "committee_decision")  # shared with the laboratory
    assert decision["submitted"]["decision"] == "grant" and "redacted" not in decision
    assert audit.verify(drive.people["alice"], case.id)["ok"]  # what is stored is untouched


def test_a_task_form_shows_current_values_only_to_those_who_may_act_on_it(drive):
    from .forms_data import form
    from .test_accreditation import to_desk_review

    case = to_desk_review(drive)
    drive.do(case.id, "desk_review", "carol")
    drive.do(case.id, "schedule_inspection", "carol")
    drive.do(case.id, "confirm_inspection_dates", "alice")
    drive.do(case.id, "assign_inspectors", "carol")
    drive.do(case.id, "declare_conflict_of_interest", "lead", data=form(
        "declare_conflict_of_interest", conflict_of_interest=True, coi_details="consulted for the lab"))
    drive.do(case.id, "declare_conflict_of_interest", "insp2")
    reassign = drive.task(case.id, "assign_inspectors")  # back to the coordinator, with the old team filled in
    assert drive.workspace.task_form_for(drive.people["carol"], reassign.id)["data"]["team_leader"] == "insp.lead"
    assert drive.workspace.task_form_for(drive.people["alice"], reassign.id)["data"] == {}
