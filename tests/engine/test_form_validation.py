"""Form validation with cached validators: one compiled validator per form schema, yet every ``user:<role>``
value is still looked up in the database of the transaction that validates (never in another one's)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.storage.db import Database
from engine.errors import InvalidFormData
from engine.definitions.forms import validate_form
from engine.users.identity import Identity

SCHEMA = {"type": "object", "required": ["lead"], "additionalProperties": False,
          "properties": {"lead": {"type": "string", "format": "user:inspector"}}}
TASK = SimpleNamespace(task_spec=SimpleNamespace(bpmn_name="Assign", bpmn_id="assign"))


def _db(path, username: str | None) -> Database:
    db = Database(f"sqlite:///{path}")
    db.migrate()
    if username:
        Identity(db).create_user(username, "correct-horse-battery", ["inspector"], display_name=username)
    return db


def test_one_schema_checks_users_in_the_validating_transactions_database(tmp_path):
    first, second = _db(tmp_path / "one.sqlite", "ines"), _db(tmp_path / "two.sqlite", "oscar")
    with first.read() as s:
        validate_form(SCHEMA, "assign.json", {"lead": "ines"}, TASK, s)
        with pytest.raises(InvalidFormData) as refused:
            validate_form(SCHEMA, "assign.json", {"lead": "oscar"}, TASK, s)
    assert refused.value.to_dict()["errors"] == [
        {"field": "/lead", "message": "no active user 'oscar' holds the role inspector"}]
    with second.read() as s:  # the same schema object, so the same cached validator
        validate_form(SCHEMA, "assign.json", {"lead": "oscar"}, TASK, s)
        with pytest.raises(InvalidFormData):
            validate_form(SCHEMA, "assign.json", {"lead": "ines"}, TASK, s)
    validate_form(SCHEMA, "assign.json", {"lead": "anyone"}, TASK)  # no session: not looked up
    with pytest.raises(InvalidFormData) as extra:
        validate_form(SCHEMA, "assign.json", {"lead": "ines", "x": 1}, TASK)
    assert {e["field"] for e in extra.value.to_dict()["errors"]} == {"/x"}
    first.dispose(), second.dispose()


def test_a_duration_field_takes_iso_8601_periods_only():
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"deadline": {"type": "string", "format": "duration"}}}
    for ok in ("P45D", "P6M", "P1Y2M3D", "P2W", "PT36H", "P1DT12H"):
        validate_form(schema, "decide.json", {"deadline": ok}, TASK)
    for bad in ("45 days", "P", "PT", "P1DT", "p30d", "P30D "):
        with pytest.raises(InvalidFormData) as refused:
            validate_form(schema, "decide.json", {"deadline": bad}, TASK)
        assert refused.value.to_dict()["errors"] == [
            {"field": "/deadline", "message": f"'{bad}' is not a duration (e.g. P30D: 30 days)"}], bad


OPEN_FORM = ('{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
             '"properties": {"answer": {"type": "string"}}}')  # no additionalProperties: false


def test_a_form_that_lets_anything_through_still_cannot_set_the_cases_engine_variables(engine, actors):
    """Without ``additionalProperties: false`` a form takes any field; a person's submission setting
    ``organisation_id`` (or ``case_id``, ``business_key``…) would have rewritten what the case's scripts,
    decision tables and assignee expressions read as the case's own facts."""
    from engine.cases.services import Engine  # noqa: F401 - the fixture's engine

    from .bpmn_builder import two_step

    bundle = two_step()
    bundle["simple.json"] = OPEN_FORM
    engine.deploy(bundle)
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    with pytest.raises(InvalidFormData) as info:
        engine.complete_task(case.tasks[0].id, actors["applicant"],
                             {"answer": "yes", "organisation_id": "lab-b", "business_key": "FORGED"})
    assert [e["field"] for e in info.value.to_dict()["errors"]] == ["/business_key", "/organisation_id"]
    assert engine.get_case(case.id).data["organisation_id"] == "lab-a"
    done = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes", "extra": 1})
    assert done.data["organisation_id"] == "lab-a" and done.data["extra"] == 1  # the form's own leniency stays


def test_a_form_declaring_an_engine_variable_as_a_field_is_a_deploy_problem(engine):
    from .bpmn_builder import two_step

    bundle = two_step()
    bundle["simple.json"] = OPEN_FORM.replace('"answer": {"type": "string"}',
                                              '"answer": {"type": "string"}, "case_id": {"type": "string"}')
    result = engine.validate(bundle)
    assert any("form field 'case_id' is an engine variable" in str(p) for p in result.errors), \
        [str(p) for p in result.errors]
