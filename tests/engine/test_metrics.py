"""Where the process hurts: the step metrics computed from the recorded history, with time moved by
time-machine (never slept through). Every figure is checked against a hand-computed expectation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from engine.actors import Actor
from engine.errors import Forbidden, InvalidFormData, NotFound
from engine.reports.metrics import StepMetrics, percentile

from .bpmn_builder import SIMPLE_FORM, flow, process, user_task

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
HOUR, DAY = 3600.0, 86400.0
ALICE = Actor("alice", {"applicant"}, "lab-a", "Alice")
CAROL = Actor("carol", {"coordinator"}, None, "Carol")
QUINN = Actor("quinn", {"quality_manager"}, None, "Quinn")


def metered_bundle():
    """start → 'answer' (applicant; a non-interrupting escalation after 2 days = its deadline) → 'review'
    (coordinator, no deadline) → end."""
    escalate = ('<bpmn:boundaryEvent id="escalate" name="Escalate" attachedToRef="answer" cancelActivity="false">'
                '<bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P2D"'
                '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>')
    body = ('<bpmn:startEvent id="start"/>' + user_task("answer", "Answer", "simple.json") + escalate
            + user_task("review", "Review") + '<bpmn:endEvent id="end"/><bpmn:endEvent id="escalated"/>'
            + flow("m1", "start", "answer") + flow("m2", "answer", "review") + flow("m3", "review", "end")
            + flow("m4", "escalate", "escalated"))
    lanes = {"applicant": ["start", "answer", "escalate", "escalated"], "coordinator": ["review", "end"]}
    return {"metered.bpmn": process("metered", lanes, body), "simple.json": SIMPLE_FORM}


def _at(offset: timedelta):
    return time_machine.travel(T0 + offset, tick=False)


def seed(engine) -> dict:
    """A: answered after 1 h, reviewed 4 h later. B: started day 1, answered on day 4 (deadline day 3: missed),
    waits for review. C: started day 2, still unanswered on day 5 (deadline day 4: overdue now)."""
    engine.deploy(metered_bundle())
    with _at(timedelta()):
        a = engine.start_case("metered", ALICE, "lab-a", business_key="A")
    with _at(timedelta(hours=1)):
        a = engine.complete_task(a.tasks[0].id, ALICE, {"answer": "yes"})
    with _at(timedelta(hours=5)):
        engine.complete_task(a.tasks[0].id, CAROL, {})
    with _at(timedelta(days=1)):
        b = engine.start_case("metered", ALICE, "lab-a", business_key="B")
    with _at(timedelta(days=2)):
        c = engine.start_case("metered", ALICE, "lab-a", business_key="C")
    with _at(timedelta(days=4)):
        engine.complete_task(b.tasks[0].id, ALICE, {"answer": "no"})
    return {"A": a.id, "B": b.id, "C": c.id}


def by_step(result) -> dict:
    return {s["element_id"]: s for s in result["steps"]}


def test_percentile_interpolates_between_ranks():
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 90) == pytest.approx(9.1)
    assert percentile([10.0, 0.0], 50) == 5.0


def test_step_metrics_match_the_seeded_cases(engine):
    seed(engine)
    with _at(timedelta(days=5)):
        result = StepMetrics(engine).steps(QUINN, "metered")
    assert result["definition"] == {"key": "metered", "name": result["definition"]["name"], "version": 1,
                                    "cases": 3}
    steps = by_step(result)
    assert set(steps) == {"answer", "review"}
    answer, review = steps["answer"], steps["review"]
    assert (answer["entered"], answer["completed"], answer["waiting_now"]) == (3, 2, 1)
    assert answer["median_seconds"] == pytest.approx((1 * HOUR + 3 * DAY) / 2)
    assert answer["p90_seconds"] == pytest.approx(1 * HOUR + (3 * DAY - 1 * HOUR) * 0.9)
    assert (answer["with_deadline"], answer["missed_deadline"], answer["overdue_now"]) == (3, 2, 1)
    assert answer["lane"] == "applicant"
    assert (review["entered"], review["completed"], review["waiting_now"]) == (2, 1, 1)
    assert review["median_seconds"] == review["p90_seconds"] == pytest.approx(4 * HOUR)
    assert (review["with_deadline"], review["missed_deadline"]) == (0, 0)


def test_overdue_is_judged_by_the_clock_now(engine):
    seed(engine)
    with _at(timedelta(days=3, hours=12)):  # C's deadline (day 4) has not passed yet: only B's late answer
        answer = by_step(StepMetrics(engine).steps(QUINN, "metered"))["answer"]
    assert (answer["missed_deadline"], answer["overdue_now"]) == (1, 0)
    with _at(timedelta(days=4, seconds=1)):  # now C is open past its deadline
        answer = by_step(StepMetrics(engine).steps(QUINN, "metered"))["answer"]
    assert (answer["missed_deadline"], answer["overdue_now"]) == (2, 1)


def test_the_date_range_selects_visits_by_when_they_entered_the_step(engine):
    seed(engine)
    with _at(timedelta(days=5)):
        result = StepMetrics(engine).steps(QUINN, "metered", since=T0 + timedelta(days=1))
        early = StepMetrics(engine).steps(QUINN, "metered", until=T0 + timedelta(days=1))
    answer = by_step(result)["answer"]
    assert (answer["entered"], answer["completed"], answer["waiting_now"], answer["missed_deadline"]) == (2, 1, 1, 2)
    assert answer["median_seconds"] == pytest.approx(3 * DAY)
    first = by_step(early)
    assert (first["answer"]["entered"], first["answer"]["missed_deadline"]) == (1, 0)
    assert first["review"]["median_seconds"] == pytest.approx(4 * HOUR)


def test_who_may_read_and_what_is_refused(engine):
    seed(engine)
    metrics = StepMetrics(engine)
    for reader in (QUINN, CAROL, Actor("audrey", {"auditor"})):
        assert metrics.steps(reader, "metered")["steps"]
    with pytest.raises(Forbidden):
        metrics.steps(ALICE, "metered")
    with pytest.raises(NotFound):
        metrics.steps(QUINN, "nothing")
    with pytest.raises(NotFound):
        metrics.steps(QUINN, "metered", 7)
    with pytest.raises(InvalidFormData):
        metrics.steps(QUINN, "metered", since=T0, until=T0)
