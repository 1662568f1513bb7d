"""Timer values SpiffWorkflow would choke on are refused, naming the timer: a literal one at deploy (HTTP 422),
a computed one when the case reaches the timer (a ProcessError, the case as it was). Durations bounded in every
unit and in total, no fraction of a year or month, a date within the years the engine handles, a number or a
date object where a text belongs; a cycle on an intermediate catch event is refused at deploy, and a spent
cycle's value never stops a case from being saved."""
from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

import pytest
import time_machine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from engine.errors import DefinitionInvalid, ProcessError
from engine.workflow import stepping
from engine.workflow.workflow_state import pending_events

from .bpmn_builder import SIMPLE_FORM, flow, process, user_task

T0 = datetime(2027, 1, 4, 9, tzinfo=timezone.utc)


def _waits(kind: str, expression: str, pid: str = "waits", before: bool = False) -> dict:
    """start → (ask, if ``before``) → timer 't1' (``kind``: timeDate / timeDuration / timeCycle) → after → end."""
    timer = (f'<bpmn:intermediateCatchEvent id="t1" name="Pause"><bpmn:timerEventDefinition>'
             f'<bpmn:{kind} xsi:type="bpmn:tFormalExpression">{html.escape(expression)}</bpmn:{kind}>'
             f'</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    first = "ask" if before else "t1"
    body = ('<bpmn:startEvent id="start"/>' + timer + user_task("after", "After", "simple.json")
            + '<bpmn:endEvent id="end"/>' + flow("f2", "t1", "after") + flow("f3", "after", "end"))
    if before:
        body += user_task("ask", "Ask", "simple.json") + flow("f0", "ask", "t1")
    body += flow("f1", "start", first)
    ids = ["start", "t1", "after", "end"] + (["ask"] if before else [])
    return {f"{pid}.bpmn": process(pid, {"applicant": ids}, body), "simple.json": SIMPLE_FORM}


REFUSED = [
    ("timeDuration", '"PT100000000H"', "longer than 1000 years"),
    ("timeDuration", '"PT99999999999999999999S"', "longer than 1000 years"),
    ("timeDuration", '"PT9999999999M"', "longer than 1000 years"),
    ("timeDuration", '"P999YT10000000H"', "longer than 1000 years"),
    ("timeDuration", '"P0.5Y"', "fraction of year"),
    ("timeDuration", '"P1.5M"', "fraction of month"),
    ("timeDuration", '"P0.000001Y"', "fraction of year"),
    ("timeDuration", '"2027-01-01T00:00:00Z"', "is a date, but this timer waits for a duration"),
    ("timeDuration", "30", "it is int, not a text"),
    ("timeDate", '"P1D"', "is a duration, but this timer waits for a date"),
    ("timeDate", '"0001-01-01T00:00:00Z"', "outside the years"),
    ("timeDate", '"0001-01-01T00:00:00+14:00"', "outside the years"),
    ("timeDate", '"9999-12-31T23:59:59-14:00"', "outside the years"),
    ("timeDate", '"9999W011"', "outside the years"),
]


@pytest.mark.parametrize("kind, expression, words", REFUSED)
def test_a_literal_timer_value_the_engine_cannot_compute_is_refused_at_deploy(engine, kind, expression, words):
    [error] = [p for p in engine.validate(_waits(kind, expression)).errors]
    assert error.element_id == "t1" and words in error.message, str(error)
    with pytest.raises(DefinitionInvalid):
        engine.deploy(_waits(kind, expression))


@pytest.mark.parametrize("kind, expression, words", REFUSED + [
    ("timeDate", "date(2027, 1, 1)", "it is date, not a text"),
])
def test_a_computed_timer_value_the_engine_cannot_compute_is_a_process_error(engine, actors, kind, expression, words):
    computed = f"({expression}) if answer else None"  # not a literal: only known when the case gets there
    engine.deploy(_waits(kind, computed, before=True))
    case = engine.start_case("waits", actors["applicant"], "lab-a")
    with pytest.raises(ProcessError) as info:
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert info.value.details["element_id"] == "t1", info.value.to_dict()
    assert words in info.value.message, info.value.message
    again = engine.get_case(case.id)  # nothing was saved: the case still waits at its task, and loads
    assert [t.element_id for t in again.tasks] == ["ask"] and again.status == "running"


@pytest.mark.parametrize("kind, expression, due", [
    ("timeDuration", '"PT36H"', T0 + timedelta(hours=36)),
    ("timeDuration", '"PT0.5H"', T0 + timedelta(minutes=30)),
    ("timeDuration", '"P1.5W"', T0 + timedelta(days=10, hours=12)),
    ("timeDuration", '"P2Y"', T0.replace(year=2029)),
    ("timeDate", '"2027-03-01T09:00:00+01:00"', datetime(2027, 3, 1, 8, tzinfo=timezone.utc)),
])
def test_ordinary_timer_values_still_wait_until_due(engine, actors, kind, expression, due):
    engine.deploy(_waits(kind, expression))
    with time_machine.travel(T0, tick=False):
        engine.start_case("waits", actors["applicant"], "lab-a")
        assert engine.next_timer_due() == due


@pytest.mark.parametrize("cycle, words", [
    ('"R/PT0S"', "has no period"),
    ('"R99999999999999999999/PT1H"', "repeats more than"),
    ('"R2/PT100000000H"', "longer than 1000 years"),
    ('"R2/P0.5Y"', "fraction of year"),
    ('"R3/P1Y/0001-01-01T00:00:00Z"', "outside the years"),
])
def test_a_boundary_cycle_the_engine_cannot_compute_is_refused_at_deploy(engine, cycle, words):
    from .test_scheduler import cycle_bundle

    bundle = cycle_bundle()
    bundle["cycle.bpmn"] = bundle["cycle.bpmn"].replace('"R5/PT1H"', cycle)
    [error] = engine.validate(bundle).errors
    assert error.element_id == "nag" and words in error.message, str(error)


def test_a_cycle_on_an_intermediate_catch_event_is_refused_at_deploy(engine):
    bundle = _waits("timeCycle", '"R2/2020-01-01T00:00:00Z/PT1S"')
    [error] = engine.validate(bundle).errors
    assert error.element_id == "t1" and "time cycle" in error.message, str(error)
    with pytest.raises(DefinitionInvalid):
        engine.deploy(bundle)


def test_a_spent_cycle_still_gives_a_due_time(engine):
    """A case deployed before cycles on catch events were refused: once SpiffWorkflow has spent the cycle's
    repetitions it reports the cycle itself (a dict) until the next refresh; the index still gets a time."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(_waits("timeCycle", '"R2/2020-01-01T00:00:00Z/PT1S"')["waits.bpmn"].encode())
    with time_machine.travel(T0, tick=False):
        wf = BpmnWorkflow(parser.get_spec("waits"))
        stepping.advance(wf)
        timers, _messages = pending_events(wf)
    assert all(isinstance(t.due_at, datetime) for t in timers), timers


def _start_cycle(event_sub_process: bool) -> dict:
    timer = ('<bpmn:timerEventDefinition><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">"R3/PT1H"'
             '</bpmn:timeCycle></bpmn:timerEventDefinition>')
    if event_sub_process:  # each firing starts an instance of the event sub-process: a cycle is honoured
        body = ('<bpmn:startEvent id="start"/>' + user_task("ask", "Ask", "simple.json") + '<bpmn:endEvent id="end"/>'
                + flow("f1", "start", "ask") + flow("f2", "ask", "end")
                + '<bpmn:subProcess id="hourly" triggeredByEvent="true">'
                  f'<bpmn:startEvent id="tick" name="Every hour" isInterrupting="false">{timer}</bpmn:startEvent>'
                  '<bpmn:endEvent id="ticked"/>' + flow("t1", "tick", "ticked") + '</bpmn:subProcess>')
        ids = ["start", "ask", "end"]
    else:
        body = (f'<bpmn:startEvent id="tick" name="Every hour">{timer}</bpmn:startEvent>'
                + user_task("ask", "Ask", "simple.json") + '<bpmn:endEvent id="end"/>'
                + flow("f1", "tick", "ask") + flow("f2", "ask", "end"))
        ids = ["tick", "ask", "end"]
    return {"ticks.bpmn": process("ticks", {"applicant": ids}, body), "simple.json": SIMPLE_FORM}


def test_a_cycle_on_a_process_start_event_is_refused_but_not_on_an_event_sub_process(engine):
    [error] = engine.validate(_start_cycle(event_sub_process=False)).errors
    assert error.element_id == "tick" and "time cycle" in error.message, str(error)
    assert engine.validate(_start_cycle(event_sub_process=True)).errors == []
