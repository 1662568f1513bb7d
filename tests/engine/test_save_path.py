"""The save path writes the case row and its inbox rows with Core statements (engine/cases/rows.py): the
optimistic version check still turns a case saved meanwhile into a Conflict with nothing written, and what the
operation's objects say is what the database holds."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.cases.operation import Operation
from engine.errors import Conflict
from engine.storage.models import Case, Event, HumanTask

from .bpmn_builder import two_step


def test_a_case_saved_by_someone_else_since_it_was_loaded_is_a_conflict(engine, actors):
    engine.deploy(two_step())
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    events_before = len(engine.history(case.id))
    with pytest.raises(Conflict):
        with engine.db.write() as s:
            ops = Operation(engine, s, actors["applicant"])
            loaded, _ref = ops.load_for_task(case.tasks[0].id)
            # another writer saved the case after this operation loaded it (the lock makes this impossible
            # between transactions; the version check is the guarantee that remains)
            s.execute(sa.update(Case).where(Case.id == case.id).values(version=Case.version + 1),
                      execution_options={"synchronize_session": False})
            task = next(t for t in loaded.wf.get_tasks() if str(t.id) == case.tasks[0].id)
            task.data.update({"answer": "yes"})
            ops.run(loaded, task.run)
            ops.finish()
    assert len(engine.history(case.id)) == events_before  # rolled back whole
    assert [t.id for t in engine.get_case(case.id).tasks] == [case.tasks[0].id]


def test_the_objects_of_a_save_match_the_rows_it_wrote(engine, actors):
    engine.deploy(two_step())
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    ask = case.tasks[0].id
    with engine.db.write() as s:
        ops = Operation(engine, s, actors["applicant"])
        loaded, ref = ops.load_for_task(ask)
        version = loaded.row.version
        task = next(t for t in loaded.wf.get_tasks() if str(t.id) == ask)
        task.data.update({"answer": "yes"})
        ops.run(loaded, task.run)
        ops.finish()
        assert not s.dirty and not s.new  # nothing left for the ORM to flush
        [review] = loaded.ready_rows
        assert s.get(HumanTask, review.id) is review  # the new inbox row is the session's object
        db_case = s.connection().execute(sa.select(Case.__table__).where(Case.id == case.id)).one()
        assert (db_case.version, db_case.state, db_case.status) == (version + 1, loaded.row.state, "running")
        assert loaded.row.version == version + 1
        for obj in (ref, review):
            row = s.connection().execute(sa.select(HumanTask.__table__).where(HumanTask.id == obj.id)).one()
            assert {c: getattr(row, c) for c in row._fields} == {c: getattr(obj, c) for c in row._fields}
        assert (ref.status, ref.completed_by) == ("completed", "alice")
    # and a second step of the same case goes through the version check again
    end = engine.complete_task(review.id, actors["coordinator"], {})
    assert end.status == "completed"
    with engine.db.read() as s:
        assert s.scalar(sa.select(Case.version).where(Case.id == case.id)) == version + 2
        assert s.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.case_id == case.id)) > 0
