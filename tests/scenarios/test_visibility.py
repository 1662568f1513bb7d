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
    from engine.audit import Audit

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
