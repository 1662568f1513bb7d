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
