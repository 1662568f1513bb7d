"""Migration 0009 carries the old implicit rule over once: inspectors assigned to (or claiming) a task of a
running case become its members, so upgrading takes nobody off a case — on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.cases import caseteam
from engine.storage.db import alembic_config
from engine.cases.services import Engine

from .bpmn_builder import flow, process, user_task


def _bundle():
    body = ('<bpmn:startEvent id="start"/>'
            + user_task("inspect", "Inspect", None, {"assignee": "inspector_name"})
            + user_task("second", "Second look", None)
            + '<bpmn:endEvent id="end"/>'
            + flow("f1", "start", "inspect") + flow("f2", "start", "second")
            + flow("f3", "inspect", "end") + flow("f4", "second", "end"))
    return {"legacy.bpmn": process("legacy", {"coordinator": ["start"], "inspector": ["inspect", "second", "end"]},
                                   body)}


def _migrate(database, revision: str, down: bool = False) -> None:
    from alembic import command

    cfg = alembic_config(database.engine.url.render_as_string(hide_password=False))
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _before_case_team(database) -> str:
    from alembic.script import ScriptDirectory

    cfg = alembic_config(database.engine.url.render_as_string(hide_password=False))
    return ScriptDirectory.from_config(cfg).get_revision("0009_case_team").down_revision


@pytest.mark.parametrize("backend", ["db", "pg_db"])
def test_upgrade_makes_assigned_and_claiming_inspectors_members(request, backend, actors):
    database = request.getfixturevalue(backend)
    engine = Engine(database, script_time_limit=1.0)
    engine.deploy(_bundle())
    case = engine.start_case("legacy", actors["coordinator"], "lab-a", {"inspector_name": "ivan"})
    untouched = engine.start_case("legacy", actors["coordinator"], "lab-a", {"inspector_name": None})
    second = next(t for t in case.tasks if t.element_id == "second")
    _migrate(database, _before_case_team(database), down=True)  # as the database was before the case team
    with database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE human_task SET claimed_by = 'iris' WHERE id = :id"), {"id": second.id})
    _migrate(database, "head")
    with database.read() as s:
        members = caseteam.team(s, case.id)
        assert sorted(m["username"] for m in members) == ["iris", "ivan"]
        assert all(m["until"] is None and m["added_by"] == "migration" for m in members)
        assert caseteam.team(s, untouched.id) == []
