"""What the engine copies from a diagram into the database fits its column (engine/definitions/validation_lengths.py):
PostgreSQL refuses a longer value (SQLite stores it), so a diagram with a 500-character task name deployed and
then failed every case start on PostgreSQL. Refused at deploy, naming the element and the limit; a value computed
at run time (an assignee expression) that cannot be a username is a ProcessError naming the element."""
from __future__ import annotations

import pytest

from engine.cases.services import Engine
from engine.errors import ProcessError

from .bpmn_builder import flow, process, two_step, user_task


@pytest.mark.parametrize("change, message", [
    (('name="Answer the question"', 'name="' + "Q" * 401 + '"'), "the name of <userTask> is 401 characters long; "
                                                                   "the engine stores at most 400"),
    (('id="ask"', 'id="' + "a" * 201 + '"'), "the id of <userTask> is 201 characters long"),
    (('value="simple.json"', 'value="' + "f" * 401 + '.json"'), "the property formJsonSchemaFilename of <property>"),
])
def test_a_diagram_value_longer_than_its_column_is_refused_at_deploy(engine, change, message):
    bundle = two_step()
    old, new = change
    assert old in bundle["two_step.bpmn"]
    bundle["two_step.bpmn"] = bundle["two_step.bpmn"].replace(old, new)
    result = engine.validate(bundle)
    assert any(message in str(p) for p in result.errors), [str(p) for p in result.errors]


def test_a_schedule_kind_or_signature_meaning_too_long_to_store_is_refused_naming_its_element(engine):
    body = ('<bpmn:startEvent id="start"/>'
            + user_task("sign", "Sign", None, {"signatureMeaning": "m" * 51})
            + '<bpmn:endEvent id="end"/>' + flow("f1", "start", "sign") + flow("f2", "sign", "end"))
    result = engine.validate({"long.bpmn": process("long", {"applicant": ["start", "sign", "end"]}, body)})
    [problem] = [p for p in result.errors if "signatureMeaning" in str(p)]
    assert "51 characters long; the engine stores at most 50" in str(problem) and problem.element_id == "sign"


def test_the_shipped_library_fits(engine):
    from engine.cases.deployment import Deployment
    from engine.cases.shipped import deploy_shipped

    from ..conftest import FORMS, PROCESSES

    deploy_shipped(Deployment(engine), PROCESSES, FORMS)  # raises on any error


def test_an_assignee_expression_giving_no_username_is_a_process_error_naming_the_element(db, actors):
    engine = Engine(db)
    body = ('<bpmn:startEvent id="start"/>'
            + user_task("ask", "Ask", None, {"assignee": "'x' * 300"})
            + '<bpmn:endEvent id="end"/>' + flow("f1", "start", "ask") + flow("f2", "ask", "end"))
    engine.deploy({"assign.bpmn": process("assign", {"applicant": ["start", "ask", "end"]}, body)})
    with pytest.raises(ProcessError) as info:
        engine.start_case("assign", actors["applicant"], "lab-a")
    assert info.value.to_dict()["element_id"] == "ask" and "300 characters" in info.value.message


def test_a_reminder_about_long_names_fits_its_subject_column(engine, actors):
    """A notification's subject joins the timer's and the task's names and the business key — each within its own
    column, together up to ~1,000 characters: cut to the subject's column (PostgreSQL would refuse the row and
    the reminder would fail to fire, again and again)."""
    import sqlalchemy as sa
    import time_machine
    from datetime import timedelta

    from engine.storage.models import Notification

    from .test_messages_timers import T0, timer_bundle

    bundle = timer_bundle()
    bundle["deadline.bpmn"] = (bundle["deadline.bpmn"].replace('name="Answer"', 'name="' + "A" * 400 + '"')
                               .replace('name="Reminder"', 'name="' + "R" * 400 + '"'))
    engine.deploy(bundle)
    with time_machine.travel(T0, tick=False):
        case = engine.start_case("deadline", actors["applicant"], "lab-a")
    with time_machine.travel(T0 + timedelta(days=1, seconds=1), tick=False):
        assert engine.fire_due_timers() == [case.id]
    with engine.db.read() as s:
        [note] = s.scalars(sa.select(Notification)).all()
    assert len(note.subject) == Notification.__table__.c.subject.type.length and note.subject.endswith("…")
    assert note.subject == "R" * 399 + "…"  # the timer's name alone fills it


@pytest.mark.parametrize("priority, fine", [("2147483647", True), ("-2147483648", True), ("2147483648", False),
                                            ("99999999999999999999", False), ("9" * 5000, False)])
def test_a_priority_the_inbox_column_cannot_hold_is_refused_at_deploy(engine, actors, priority, fine):
    """The inbox's priority is a 32-bit INTEGER on PostgreSQL: a larger one deployed, then failed every case start
    (an OverflowError on SQLite beyond 64 bits, "integer out of range" on PostgreSQL beyond 32: a 500)."""
    from sqlalchemy import Integer

    from engine.storage.models import HumanTask

    assert type(HumanTask.__table__.c.priority.type) is Integer  # what INTEGER_RANGE stands for
    body = ('<bpmn:startEvent id="start"/>' + user_task("ask", "Ask", None, {"priority": priority})
            + '<bpmn:endEvent id="end"/>' + flow("f1", "start", "ask") + flow("f2", "ask", "end"))
    bundle = {"p.bpmn": process("p", {"applicant": ["start", "ask", "end"]}, body)}
    errors = [str(p) for p in engine.validate(bundle).errors]
    if fine:
        assert errors == []
        engine.deploy(bundle)
        assert engine.start_case("p", actors["applicant"], "lab-a").tasks[0].priority == int(priority)
    else:
        assert any("priority" in e and ("outside" in e or "not an integer" in e) for e in errors), errors


def test_a_case_team_that_is_not_made_of_usernames_or_names_too_long_a_variable_is_refused(engine, actors):
    """caseTeam writes each named value (a username) and the variable that named it into the team's columns:
    a 300-character value is a ProcessError naming the element; a variable name longer than the column is a
    deploy problem (both were "value too long" on PostgreSQL: a 500)."""
    from .test_workspace import inspection_bundle

    engine.deploy(inspection_bundle())
    with pytest.raises(ProcessError) as info:
        engine.start_case("inspection", actors["coordinator"], "lab-a", {"inspector_name": "i" * 300})
    assert "300 characters, not a username" in info.value.message and info.value.to_dict()["element_id"] == "start"
    long = "v" * 201
    bundle = inspection_bundle()
    bundle["inspection.bpmn"] = bundle["inspection.bpmn"].replace("inspector_name", long)
    errors = [str(p) for p in engine.validate(bundle).errors]
    assert any("a variable named by caseTeam" in e and "201 characters long" in e for e in errors), errors
