"""The engine service API on small diagrams: start, inbox, complete, checks, atomicity, history."""
from __future__ import annotations

import pytest

from engine.errors import Conflict, Forbidden, InvalidFormData, NotFound, ProcessError
from engine.cases.services import Engine

from .bpmn_builder import two_step


@pytest.fixture
def deployed(engine):
    result = engine.deploy(two_step(), deployed_by="qm")
    assert result.deployed == [{"key": "two_step", "version": 1, "created": True}]
    return engine


def test_start_lists_ready_task_with_role_and_form(deployed, actors):
    case = deployed.start_case("two_step", actors["applicant"], "lab-a")
    assert case.status == "running"
    [task] = case.tasks
    assert (task.element_id, task.role, task.form, task.status) == ("ask", "applicant", "simple.json", "ready")
    assert case.data["organisation_id"] == "lab-a" and case.data["case_id"] == case.id


def test_complete_runs_script_and_gateway_and_ends(deployed, actors):
    case = deployed.start_case("two_step", actors["applicant"], "lab-a")
    case = deployed.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    [review] = case.tasks
    assert review.element_id == "review" and review.role == "coordinator"
    assert case.data["result"] == "YES"
    case = deployed.complete_task(review.id, actors["coordinator"], {})
    assert (case.status, case.outcome, case.tasks) == ("completed", "end_yes", [])


def test_other_branch(deployed, actors):
    case = deployed.start_case("two_step", actors["applicant"], "lab-a")
    case = deployed.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "no"})
    assert (case.status, case.outcome) == ("completed", "end_no")


def test_role_refused(deployed, actors):
    case = deployed.start_case("two_step", actors["applicant"], "lab-a")
    with pytest.raises(Forbidden, match="role 'applicant'"):
        deployed.complete_task(case.tasks[0].id, actors["coordinator"], {"answer": "yes"})
    with pytest.raises(NotFound):  # another organisation's case: not even its existence is told
        deployed.complete_task(case.tasks[0].id, actors["applicant_b"], {"answer": "yes"})
    assert deployed.get_case(case.id).tasks[0].status == "ready"


def test_start_refused_for_wrong_role_or_other_org(deployed, actors):
    with pytest.raises(Forbidden):
        deployed.start_case("two_step", actors["coordinator"], "lab-a")
    with pytest.raises(Forbidden):
        deployed.start_case("two_step", actors["applicant"], "lab-b")
    with pytest.raises(NotFound):
        deployed.start_case("nope", actors["applicant"], "lab-a")


def test_invalid_form_data_reports_each_field(deployed, actors):
    case = deployed.start_case("two_step", actors["applicant"], "lab-a")
    with pytest.raises(InvalidFormData) as info:
        deployed.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "maybe", "note": "x" * 30, "x": 1})
    fields = {e["field"] for e in info.value.errors}
    assert fields == {"/answer", "/note", "/x"}
    with pytest.raises(InvalidFormData) as info:
        deployed.complete_task(case.tasks[0].id, actors["applicant"], {})
    assert info.value.errors == [{"field": "/answer", "message": "is required"}]
    assert deployed.get_case(case.id).tasks[0].element_id == "ask"


def test_task_without_form_takes_no_data(deployed, actors):
    case = deployed.start_case("two_step", actors["applicant"], "lab-a")
    case = deployed.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    with pytest.raises(InvalidFormData, match="takes no data"):
        deployed.complete_task(case.tasks[0].id, actors["coordinator"], {"anything": 1})


def test_completed_task_cannot_be_completed_again(deployed, actors):
    case = deployed.start_case("two_step", actors["applicant"], "lab-a")
    task_id = case.tasks[0].id
    deployed.complete_task(task_id, actors["applicant"], {"answer": "yes"})
    with pytest.raises(Conflict, match="already completed"):
        deployed.complete_task(task_id, actors["applicant"], {"answer": "yes"})


def test_failing_script_leaves_everything_as_before(engine, actors, db):
    engine.deploy(two_step(script="result = 1 / 0"), deployed_by="qm")
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    before_state = _row_state(db, case.id)
    before_history = engine.history(case.id)
    with pytest.raises(ProcessError) as info:
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert info.value.details["element_id"] == "compute"
    assert "division by zero" in info.value.message
    assert _row_state(db, case.id) == before_state
    assert engine.history(case.id) == before_history
    again = engine.get_case(case.id)
    assert [t.element_id for t in again.tasks] == ["ask"] and again.tasks[0].status == "ready"


def test_history_records_who_did_what(deployed, actors):
    case = deployed.start_case("two_step", actors["applicant"], "lab-a")
    deployed.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes", "note": "hi"})
    events = deployed.history(case.id)
    actions = [e["action"] for e in events]
    assert actions[0] == "case.started"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    done = next(e for e in events if e["action"] == "task.completed")
    assert (done["actor"], done["role"], done["element_id"]) == ("alice", "applicant", "ask")
    assert done["data"]["submitted"] == {"answer": "yes", "note": "hi"}
    assert done["data"]["changes"]["answer"] == {"old": None, "new": "yes"}
    assert any(e["action"] == "element.completed" and e["element_id"] == "compute" for e in events)
    assert actions.count("task.ready") == 2


def test_state_survives_a_new_engine(deployed, actors, db):
    case = deployed.start_case("two_step", actors["applicant"], "lab-a")
    fresh = Engine(db)
    case = fresh.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert case.tasks[0].element_id == "review"


def test_same_bundle_twice_is_not_a_new_version(deployed):
    again = deployed.deploy(two_step(), deployed_by="qm")
    assert again.deployed == [{"key": "two_step", "version": 1, "created": False}]
    changed = deployed.deploy(two_step(script="result = answer"), deployed_by="qm")
    assert changed.deployed == [{"key": "two_step", "version": 2, "created": True}]


def _row_state(db, case_id):
    import sqlalchemy as sa
    with db.engine.connect() as conn:
        return conn.execute(sa.text('select state, version from "case" where id = :i'), {"i": case_id}).one()
