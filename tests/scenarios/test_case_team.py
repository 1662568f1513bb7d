"""Who is on a case, with the shipped diagrams: the team named at *Assign inspection team* is the explicit
record inspector access comes from; naming another team, or a declared conflict of interest, removes a member
at once; naming them again brings them back; the called inspection shares its parent case's team."""
from __future__ import annotations

from engine.cases import caseteam
from engine.errors import NotFound

from .forms_data import form
from .test_accreditation import to_desk_review


def _to_assignment(drive):
    case = to_desk_review(drive)
    drive.do(case.id, "desk_review", "carol")
    drive.do(case.id, "schedule_inspection", "carol")
    drive.do(case.id, "confirm_inspection_dates", "alice")
    return case


def _team(drive, case_id):
    with drive.engine.db.read() as s:
        return caseteam.team(s, case_id)


def _active(drive, case_id):
    return sorted(m["username"] for m in _team(drive, case_id) if m["until"] is None)


def _sees(drive, who, case_id) -> bool:
    try:
        drive.workspace.case_for(drive.people[who], case_id)
        return True
    except NotFound:
        return False


def test_team_is_named_by_the_assignment_and_replaced_after_an_objection(drive):
    case = _to_assignment(drive)
    assert _team(drive, case.id) == [] and not _sees(drive, "lead", case.id)
    drive.do(case.id, "assign_inspectors", "carol")
    assert _active(drive, case.id) == ["insp.lead", "insp2"]
    assert {m["username"]: m["role"] for m in _team(drive, case.id)} == {"insp.lead": "team_leader",
                                                                          "insp2": "inspectors"}
    assert _sees(drive, "lead", case.id) and _sees(drive, "insp2", case.id)
    drive.do(case.id, "declare_conflict_of_interest", "lead")
    drive.do(case.id, "declare_conflict_of_interest", "insp2")
    drive.do(case.id, "review_inspection_team", "alice", team_objection=True, objection_reason="Competitor")

    # the laboratory objected to insp2: the coordinator names a team without him
    drive.do(case.id, "assign_inspectors", "carol", data=form("assign_inspectors", inspectors=[]))
    assert _active(drive, case.id) == ["insp.lead"]
    assert not _sees(drive, "insp2", case.id) and _sees(drive, "lead", case.id)
    assert drive.workspace.inbox(drive.people["insp2"]).total == 0
    [removed] = drive.actions(case.id, "team.member_removed")
    assert (removed["actor"], removed["data"]["username"], removed["data"]["element_id"]) == (
        "carol", "insp2", "assign_inspectors")
    assert "no longer named" in removed["data"]["reason"]
    assert [e["data"]["username"] for e in drive.actions(case.id, "team.member_added")] == ["insp.lead", "insp2"]


def test_a_declared_conflict_removes_the_inspector_at_once_and_naming_them_again_restores(drive):
    case = _to_assignment(drive)
    drive.do(case.id, "assign_inspectors", "carol")
    drive.do(case.id, "declare_conflict_of_interest", "insp2", data=form(
        "declare_conflict_of_interest", conflict_of_interest=True, coi_details="consulted for the lab"))
    # before the other declaration is in, insp2 is off the case
    assert _active(drive, case.id) == ["insp.lead"]
    assert not _sees(drive, "insp2", case.id)
    [removed] = drive.actions(case.id, "team.member_removed")
    assert (removed["actor"], removed["data"]["username"]) == ("insp2", "insp2")
    assert removed["data"]["reason"] == "conflict_of_interest at 'Declare conflict of interest'"
    assert "consulted" not in str(removed)  # the details stay in the (staff-only) declaration
    # the laboratory (and the other inspector) read that the team changed, not who or why
    from engine.reports.audit import Audit

    audit = Audit(drive.engine.db, engine=drive.engine)
    for who in ("alice", "lead"):
        [seen] = audit.history(drive.people[who], case.id, action="team.member_removed").items
        assert seen["data"] == {"redacted": True}

    drive.do(case.id, "declare_conflict_of_interest", "lead")
    assert drive.ready_ids(case.id) == ["assign_inspectors"]
    # the conflict turned out to be a misunderstanding: the coordinator names him again
    drive.do(case.id, "assign_inspectors", "carol")
    assert _active(drive, case.id) == ["insp.lead", "insp2"]
    assert _sees(drive, "insp2", case.id)
    periods = [(m["until"] is None) for m in _team(drive, case.id) if m["username"] == "insp2"]
    assert periods == [False, True]  # the first membership ended; a new one began


def test_the_called_inspection_shares_the_parent_case_team(drive):
    case = _to_assignment(drive)
    drive.do(case.id, "assign_inspectors", "carol")
    drive.do(case.id, "declare_conflict_of_interest", "lead")
    drive.do(case.id, "declare_conflict_of_interest", "insp2")
    drive.do(case.id, "review_inspection_team", "alice")
    assert drive.ready_ids(case.id) == ["inspection_checklist", "inspection_checklist"]
    for who in ("lead", "insp2"):
        [mine] = drive.workspace.inbox(drive.people[who]).items
        assert mine.element_id == "inspection_checklist"


def test_surveillance_audit_team_comes_from_its_plan(drive):
    audit = drive.start("surveillance_audit", who="carol", data={"audit_type": "for_cause", "reason": "Complaint"})
    assert not _sees(drive, "lead", audit.id)
    drive.do(audit.id, "plan_surveillance_audit", "carol")
    assert _active(drive, audit.id) == ["insp.lead"] and _sees(drive, "lead", audit.id)
    assert not _sees(drive, "insp2", audit.id)
