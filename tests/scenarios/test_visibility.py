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
