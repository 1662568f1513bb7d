"""Messages between cases (linked cases started by a message start event, replies routed back by
organisation), messages delivered from outside, and boundary timers fired with the clock moved."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from engine.errors import NotFound

from .bpmn_builder import SIMPLE_FORM, flow, process, user_task

MESSAGES = '<bpmn:message id="m_child_due" name="child_due"/><bpmn:message id="m_child_done" name="child_done"/>'


def message(ref, payload=None, variable=None):
    """A messageEventDefinition with SpiffWorkflow's payload expression (throw) or variable (catch)."""
    ext = ""
    if payload:
        ext += f"<spiffworkflow:messagePayload>{payload}</spiffworkflow:messagePayload>"
    if variable:
        ext += f"<spiffworkflow:messageVariable>{variable}</spiffworkflow:messageVariable>"
    ext = f"<bpmn:extensionElements>{ext}</bpmn:extensionElements>" if ext else ""
    return f'<bpmn:messageEventDefinition messageRef="{ref}">{ext}</bpmn:messageEventDefinition>'


#: the API tests also send 'child_done' from outside (an applicant, a coordinator): the diagram says they may
SENT_BY_PEOPLE = ('<bpmn:extensionElements><spiffworkflow:properties>'
                  '<spiffworkflow:property name="sentBy" value="applicant,coordinator"/>'
                  '</spiffworkflow:properties></bpmn:extensionElements>')


def linked_bundle():
    parent = (
        '<bpmn:startEvent id="start"/>' + user_task("ask", "Ask", "simple.json")
        + '<bpmn:intermediateThrowEvent id="throw_child" name="Child due">'
        + message("m_child_due", payload='{"n": 1, "asked_by": case_id}') + '</bpmn:intermediateThrowEvent>'
        + '<bpmn:intermediateCatchEvent id="wait_child" name="Child done">' + SENT_BY_PEOPLE
        + message("m_child_done", variable="reply") + '</bpmn:intermediateCatchEvent>'
        + '<bpmn:endEvent id="end_parent"/>'
        + flow("p1", "start", "ask") + flow("p2", "ask", "throw_child") + flow("p3", "throw_child", "wait_child")
        + flow("p4", "wait_child", "end_parent"))
    child = (
        '<bpmn:startEvent id="child_start">' + message("m_child_due", variable="trigger") + '</bpmn:startEvent>'
        + user_task("work", "Work", None)
        + '<bpmn:intermediateThrowEvent id="throw_done" name="Done">'
        + message("m_child_done", payload='{"ok": True}') + '</bpmn:intermediateThrowEvent>'
        + '<bpmn:endEvent id="end_child"/>'
        + flow("c1", "child_start", "work") + flow("c2", "work", "throw_done") + flow("c3", "throw_done", "end_child"))
    return {
        "parent.bpmn": process("parent", {"applicant": ["start", "ask", "throw_child", "wait_child", "end_parent"]},
                               parent, MESSAGES),
        "child.bpmn": process("child", {"coordinator": ["child_start", "work", "throw_done", "end_child"]},
                              child, MESSAGES),
        "simple.json": SIMPLE_FORM,
    }


def test_thrown_message_starts_linked_case_and_reply_returns(engine, actors):
    result = engine.deploy(linked_bundle())
    assert {d["key"] for d in result.deployed} == {"parent", "child"}
    case = engine.start_case("parent", actors["applicant"], "lab-a")
    case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert case.status == "running" and case.tasks == []
    [child] = engine.linked_cases(case.id)
    assert (child.process_key, child.parent_case_id, child.organisation_id) == ("child", case.id, "lab-a")
    child = engine.get_case(child.id)
    assert child.data["trigger"] == {"n": 1, "asked_by": case.id}
    [work] = child.tasks
    child = engine.complete_task(work.id, actors["coordinator"], {})
    assert child.status == "completed"
    parent = engine.get_case(case.id)
    assert (parent.status, parent.data["reply"]) == ("completed", {"ok": True})
    actions = [e["action"] for e in engine.history(case.id)]
    assert "case.linked_started" in actions and "message.received" in actions


def test_coordinator_starts_message_process_directly(engine, actors):
    engine.deploy(linked_bundle())
    child = engine.start_case("child", actors["coordinator"], "lab-a", {"reason": "complaint"})
    assert child.data["trigger"] == {"reason": "complaint"} and child.tasks[0].element_id == "work"


def test_message_from_outside_reaches_the_waiting_case_of_that_organisation(engine, actors):
    engine.deploy(linked_bundle())
    a = engine.start_case("parent", actors["applicant"], "lab-a")
    engine.complete_task(a.tasks[0].id, actors["applicant"], {"answer": "yes"})
    with pytest.raises(NotFound):
        engine.deliver_message("child_done", {"ok": "late"}, organisation_id="lab-b")
    received = engine.deliver_message("child_done", {"ok": "outside"}, organisation_id="lab-a")
    assert received == [a.id]
    assert engine.get_case(a.id).data["reply"] == {"ok": "outside"}
    with pytest.raises(NotFound):
        engine.deliver_message("child_done", {}, organisation_id="lab-a")


def timer_bundle():
    body = (
        '<bpmn:startEvent id="start"/>' + user_task("answer", "Answer", "simple.json")
        + '<bpmn:boundaryEvent id="remind" name="Reminder" attachedToRef="answer" cancelActivity="false">'
          '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P1D"</bpmn:timeDuration>'
          '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        + '<bpmn:boundaryEvent id="lapse" name="Deadline" attachedToRef="answer">'
          '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P3D"</bpmn:timeDuration>'
          '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        + '<bpmn:endEvent id="reminded" name="Reminder sent"/><bpmn:endEvent id="ended_lapsed" name="Lapsed"/>'
        + '<bpmn:endEvent id="done" name="Done"/>'
        + flow("t1", "start", "answer") + flow("t2", "answer", "done") + flow("t3", "remind", "reminded")
        + flow("t4", "lapse", "ended_lapsed"))
    ids = ["start", "answer", "remind", "lapse", "reminded", "ended_lapsed", "done"]
    return {"deadline.bpmn": process("deadline", {"applicant": ids}, body), "simple.json": SIMPLE_FORM}


T0 = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)


def test_boundary_timers_give_due_date_remind_then_lapse(engine, actors):
    engine.deploy(timer_bundle())
    with time_machine.travel(T0, tick=False):
        case = engine.start_case("deadline", actors["applicant"], "lab-a")
        [task] = case.tasks
        assert task.due_at == T0 + timedelta(days=3)  # the interrupting deadline, not the reminder
        assert engine.next_timer_due() == T0 + timedelta(days=1)
        assert engine.fire_due_timers() == []
    with time_machine.travel(T0 + timedelta(days=1, seconds=1), tick=False):
        assert engine.fire_due_timers() == [case.id]
        case = engine.get_case(case.id)
        assert case.status == "running" and case.tasks[0].id == task.id
        assert engine.fire_due_timers() == []  # fires once
    with time_machine.travel(T0 + timedelta(days=3, seconds=1), tick=False):
        engine.fire_due_timers()
        case = engine.get_case(case.id)
        assert (case.status, case.outcome) == ("completed", "ended_lapsed")
        assert engine.next_timer_due() is None
    events = engine.history(case.id)
    fired = [e["element_id"] for e in events if e["action"] == "timer.fired"]
    assert fired == ["remind", "lapse"]
    assert any(e["action"] == "element.cancelled" and e["element_id"] == "answer" for e in events)
    assert engine.get_task(task.id).status == "cancelled"


def test_completing_before_the_deadline_removes_its_timers(engine, actors):
    engine.deploy(timer_bundle())
    with time_machine.travel(T0, tick=False):
        case = engine.start_case("deadline", actors["applicant"], "lab-a")
        case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "no"})
    assert (case.status, case.outcome) == ("completed", "done")
    assert engine.next_timer_due() is None


def test_an_overdue_cycle_catching_up_fits_the_stepping_budget(engine, actors):
    # 100 reminders fire in one go (the scheduler was down for hours), each running a script and an end event:
    # ~300 engine tasks with no wait between them (every missed repetition is already due), well within the
    # budget of engine/workflow/stepping.py — which is per run between two waits, not per operation
    body = (
        '<bpmn:startEvent id="start"/>' + user_task("answer", "Answer", "simple.json")
        + '<bpmn:boundaryEvent id="remind" name="Reminder" attachedToRef="answer" cancelActivity="false">'
          '<bpmn:timerEventDefinition><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">"R100/PT1M"</bpmn:timeCycle>'
          '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        + '<bpmn:scriptTask id="count" name="Count"><bpmn:script>reminders = 1</bpmn:script></bpmn:scriptTask>'
        + '<bpmn:endEvent id="reminded" name="Reminder sent"/><bpmn:endEvent id="done" name="Done"/>'
        + flow("t1", "start", "answer") + flow("t2", "answer", "done") + flow("t3", "remind", "count")
        + flow("t4", "count", "reminded"))
    ids = ["start", "answer", "remind", "count", "reminded", "done"]
    engine.deploy({"nagging.bpmn": process("nagging", {"applicant": ids}, body), "simple.json": SIMPLE_FORM})
    with time_machine.travel(T0, tick=False):
        case = engine.start_case("nagging", actors["applicant"], "lab-a")
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        fired = engine.fire_due_timers()
    assert (fired, engine.failed_timer_cases) == ([case.id], [])
    after = engine.get_case(case.id)
    assert after.status == "running" and [t.element_id for t in after.tasks] == ["answer"]
