"""The case diagram drills down into called processes (Workspace.case_diagram): each process's own diagram,
from the definition version the case runs on, with its own completed / waiting elements — generic over
calledElement, at any depth, with the case's visibility."""
from __future__ import annotations

import pytest

from engine.errors import NotFound
from engine.cases.services import Engine
from engine.cases.workspace import Workspace

from ..engine.bpmn_builder import SIMPLE_FORM, flow, process, user_task
from .test_accreditation import to_committee, to_desk_review


def _states(diagram) -> dict:
    return {e["element_id"]: e["state"] for e in diagram["elements"]}


def test_a_surveillance_audit_in_its_inspection(drive):
    w, carol, alice, bob = drive.workspace, drive.people["carol"], drive.people["alice"], drive.people["bob"]
    audit = drive.start("surveillance_audit", who="carol", data={"audit_type": "for_cause", "reason": "complaint"})
    drive.do(audit.id, "plan_surveillance_audit", "carol")

    top = w.case_diagram(carol, audit.id)
    assert top["process"] == top["root_process"] == "surveillance_audit" and top["file"] == "surveillance_audit.bpmn"
    assert 'id="surveillance_audit"' in top["xml"]
    assert _states(top)["plan_surveillance_audit"] == "completed"
    assert _states(top)["inspection"] == "active"  # the call activity runs now
    assert "inspection_checklist" not in _states(top)  # the called process's steps are not on the caller
    assert top["calls"] == [{"element_id": "inspection", "element_name": "Inspection",
                             "called_element": "inspection", "state": "active"}]

    inner = w.case_diagram(carol, audit.id, "inspection")
    assert inner["process"] == "inspection" and inner["file"] == "inspection.bpmn"
    assert inner["definition_key"] == "surveillance_audit" and inner["definition_version"] == 1
    states = _states(inner)
    assert states["inspection_checklist"] == "active" and states["prepare_inspection"] == "completed"
    assert "plan_surveillance_audit" not in states
    assert inner["calls"] == []

    drive.do(audit.id, "inspection_checklist", "lead")
    states = _states(w.case_diagram(carol, audit.id, "inspection"))
    assert states["inspection_checklist"] == "completed" and states["inspection_report"] == "active"

    # the laboratory sees its own case's diagrams; another laboratory gets the case's 404
    assert _states(w.case_diagram(alice, audit.id, "inspection"))["inspection_report"] == "active"
    with pytest.raises(NotFound):
        w.case_diagram(bob, audit.id, "inspection")
    # a process the case does not call: 404 naming it
    with pytest.raises(NotFound) as err:
        w.case_diagram(carol, audit.id, "membership")
    assert "membership" in err.value.message and err.value.details["process"] == "membership"


def test_an_accreditation_in_its_inspection_after_a_loop(drive):
    """The accreditation's own call activity: its inspection diagram, and the top level marks it done."""
    case = to_desk_review(drive)
    to_committee(drive, case)
    carol = drive.people["carol"]
    top = drive.workspace.case_diagram(carol, case.id)
    assert _states(top)["inspection_phase"] == "completed" and _states(top)["decision_phase"] == "active"
    assert "committee_decision" not in _states(top)  # a phase's steps are not on the top level
    stage = drive.workspace.case_diagram(carol, case.id, "accreditation_inspection")
    assert _states(stage)["inspection"] == "completed"
    assert [c["called_element"] for c in stage["calls"]] == ["inspection"]
    inner = _states(drive.workspace.case_diagram(carol, case.id, "inspection"))
    assert inner["inspection_checklist"] == inner["inspection_report"] == "completed"
    assert "committee_decision" not in inner
    decision = _states(drive.workspace.case_diagram(carol, case.id, "accreditation_decision"))
    assert decision["committee_decision"] == "active"


def _chain():
    """outer → call 'phase' (middle) → call 'check' (inner) → 'do_it' (applicant): the same element ids
    (start, end) in all three processes."""
    def caller(pid, call_id, called):
        body = ('<bpmn:startEvent id="start"/>'
                f'<bpmn:callActivity id="{call_id}" name="{called.title()}" calledElement="{called}"/>'
                '<bpmn:endEvent id="end"/>' + flow("f1", "start", call_id) + flow("f2", call_id, "end"))
        return process(pid, {"applicant": ["start", call_id, "end"]}, body)

    inner = ('<bpmn:startEvent id="start"/>' + user_task("do_it", "Do it", "simple.json")
             + '<bpmn:endEvent id="end"/>' + flow("f1", "start", "do_it") + flow("f2", "do_it", "end"))
    return {"outer.bpmn": caller("outer", "phase", "middle"), "middle.bpmn": caller("middle", "check", "inner"),
            "inner.bpmn": process("inner", {"applicant": ["start", "do_it", "end"]}, inner),
            "simple.json": SIMPLE_FORM}


def test_nested_calls_each_with_their_own_state(db, actors, tmp_path):
    engine = Engine(db, script_time_limit=1.0)
    engine.deploy(_chain(), deployed_by="tests")
    w = Workspace(db, engine, None, tmp_path / "files")
    alice = actors["applicant"]
    case = engine.start_case("outer", alice, alice.organisation_id)

    outer = w.case_diagram(alice, case.id)
    assert [c["called_element"] for c in outer["calls"]] == ["middle"] and outer["calls"][0]["state"] == "active"
    assert _states(outer) == {"start": "completed", "phase": "active"}
    middle = w.case_diagram(alice, case.id, "middle")
    assert middle["file"] == "middle.bpmn" and middle["calls"][0]["called_element"] == "inner"
    assert _states(middle) == {"start": "completed", "check": "active"}
    inner = w.case_diagram(alice, case.id, "inner")
    assert _states(inner) == {"start": "completed", "do_it": "active"}

    [task] = case.tasks
    engine.complete_task(task.id, alice, {"answer": "yes"})
    for key in ("inner", "middle", "outer"):
        states = _states(w.case_diagram(alice, case.id, None if key == "outer" else key))
        assert states["end"] == "completed" and "active" not in states.values(), (key, states)


def test_each_phase_start_event_counts_in_its_own_diagram(drive):
    """Every phase of the split library has a start event of id 'start': once its task is pruned, the event
    counts in the process whose element has that id *and name*, not in every process with a 'start'."""
    case = to_desk_review(drive)
    to_committee(drive, case)
    carol = drive.people["carol"]
    top = {e["element_id"]: e for e in drive.workspace.case_diagram(carol, case.id)["elements"]}
    assert top["start"]["element_name"] == "Accreditation requested"
    assert top["start"]["times_completed"] == 1
    stage = {e["element_id"]: e for e in drive.workspace.case_diagram(carol, case.id, "accreditation_inspection")["elements"]}
    assert stage["start"]["element_name"] == "Application complete" and stage["start"]["times_completed"] == 1


def test_events_waiting_for_a_timer_or_a_message_are_marked_waiting(drive):
    """An awarded accreditation waits in its maintenance phase on timers and a message, with no person's
    task: the phase's diagram marks those events as waiting now (it showed nothing waiting)."""
    from .test_accreditation import awarded

    case = awarded(drive)
    carol = drive.people["carol"]
    assert _states(drive.workspace.case_diagram(carol, case.id))["maintenance_phase"] == "active"
    phase = drive.workspace.case_diagram(carol, case.id, "accreditation_maintenance")
    waiting = {e["element_id"]: e["element_name"] for e in phase["elements"] if e["state"] == "active"}
    assert waiting == {"surveillance_timer": "Surveillance interval elapsed", "annual_timer": "Anniversary",
                       "renewal_opens_timer": "Renewal opens", "expiry_timer": "Accreditation expires",
                       "catch_change_notification": "Change notified"}
