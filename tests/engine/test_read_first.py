"""SQLite: a task completion computes outside the write lock and queues only to write
(engine/storage/db.py ``Database.write_read_first``; engine/cases/operation.py ``_unchanged_since_read``).

The completion loads, restores, checks and runs the case in a plain read transaction, then takes the writer
queue and ``BEGIN IMMEDIATE`` at its first write, where it checks that the case it read is unchanged (same
version, same last history event). If another writer changed that case in between, the completion runs again
locked from the start: the same result as if it had waited for the lock in the first place.

Each test holds the writer queue in the test's own thread (as a writer of another process would), starts a
completion in a second thread, and waits until that thread is blocked on the queue (it shows in /proc/locks) —
so the interleaving is the one named, not one the scheduler happened to pick.
"""
from __future__ import annotations

import os
import threading

import sqlalchemy as sa

from engine.cases.services import Engine
from engine.reports.audit import verify_chain

from ..servers import wait_for
from .test_concurrency import _parallel


def _blocked_on(path: str) -> bool:
    """Is some process or thread waiting for the flock of ``path`` (a ``->`` line of /proc/locks)?"""
    st = os.stat(path)
    inode = f":{st.st_ino} "
    with open("/proc/locks") as f:
        return any("->" in line and "FLOCK" in line and inode in line for line in f)


class _Statements:
    """The SQL statements each thread sends through the engine (SQLAlchemy's own, not the driver's)."""

    def __init__(self, db):
        self.by_thread: dict[int, list[str]] = {}
        self.db = db
        sa.event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, *args):
        self.by_thread.setdefault(threading.get_ident(), []).append(statement)

    def case_loads(self, ident: int) -> int:
        return sum(1 for s in self.by_thread.get(ident, []) if s.lstrip().startswith("SELECT")
                   and 'FROM "case"' in s and "human_task.id = ?" in s)

    def close(self):
        sa.event.remove(self.db.engine, "before_cursor_execute", self._seen)


def _complete_in_thread(engine, task_id, actor):
    outcome = {}

    def run():
        outcome["thread"] = threading.get_ident()
        try:
            outcome["case"] = engine.complete_task(task_id, actor, {})
        except Exception as exc:  # noqa: BLE001 - every failure is a finding here
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_completion_reads_and_runs_while_another_writer_holds_the_lock_and_waits_only_to_write(db, actors):
    engine = Engine(db)
    engine.deploy(_parallel())
    mine = engine.start_case("parallel", actors["applicant"], "lab-a")
    other = engine.start_case("parallel", actors["applicant"], "lab-a")
    seen = _Statements(db)
    try:
        with db.writers.held():  # another writer is in the middle of its transaction
            thread, outcome = _complete_in_thread(engine, mine.tasks[0].id, actors["applicant"])
            wait_for(lambda: _blocked_on(db.writers.path), 30, "the completion to queue for the write lock")
            # blocked at its first write, having loaded the case already (before: blocked before any statement)
            assert seen.case_loads(outcome["thread"]) == 1
            assert "case" not in outcome and "error" not in outcome
            # a write to another case meanwhile does not make the waiting completion start over
            engine.complete_task(other.tasks[0].id, actors["applicant"], {})
        thread.join(30)
        assert not thread.is_alive()
        assert "error" not in outcome, outcome["error"]
        assert seen.case_loads(outcome["thread"]) == 1  # not run again: what it read is still current
    finally:
        seen.close()
    assert sorted(t.element_id for t in outcome["case"].tasks) == ["t1", "t2", "t3"]
    assert verify_chain(db, mine.id)["ok"] and verify_chain(db, other.id)["ok"]


def test_a_completion_whose_case_changed_while_it_waited_runs_again_locked_and_keeps_one_chain(db, actors):
    engine = Engine(db)
    engine.deploy(_parallel())
    case = engine.start_case("parallel", actors["applicant"], "lab-a")
    first, second = case.tasks[0].id, case.tasks[1].id
    seen = _Statements(db)
    try:
        with db.writers.held():
            thread, outcome = _complete_in_thread(engine, first, actors["applicant"])
            wait_for(lambda: _blocked_on(db.writers.path), 30, "the completion to queue for the write lock")
            # the same case changes under it: another task of it is completed (new version, new events)
            engine.complete_task(second, actors["applicant"], {})
        thread.join(30)
        assert not thread.is_alive()
        assert "error" not in outcome, outcome["error"]  # before: a conflict, or a broken chain
        assert seen.case_loads(outcome["thread"]) == 2  # read once, found stale at the lock, run again locked
    finally:
        seen.close()
    assert sorted(t.element_id for t in outcome["case"].tasks) == ["t2", "t3"]
    events = engine.history(case.id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    completed = [e["element_id"] for e in events if e["action"] == "task.completed"]
    assert completed == ["t1", "t0"]
    assert verify_chain(db, case.id)["ok"]


def test_a_comment_on_the_case_while_a_completion_waits_also_sends_it_round_again(db, actors, tmp_path):
    """Anything recorded on the case (here a comment: no new version, one more event in its chain) counts as
    a change: the checks the completion made may have read it."""
    from engine.cases.workspace import Workspace
    from engine.users.identity import Identity

    engine = Engine(db)
    engine.deploy(_parallel())
    case = engine.start_case("parallel", actors["applicant"], "lab-a")
    seen = _Statements(db)
    try:
        with db.writers.held():
            thread, outcome = _complete_in_thread(engine, case.tasks[0].id, actors["applicant"])
            wait_for(lambda: _blocked_on(db.writers.path), 30, "the completion to queue for the write lock")
            Workspace(db, engine, Identity(db), tmp_path / "files").add_comment(case.id, actors["applicant"], "a note while it waits")
        thread.join(30)
        assert "error" not in outcome, outcome["error"]
        assert seen.case_loads(outcome["thread"]) == 2
    finally:
        seen.close()
    actions = [e["action"] for e in engine.history(case.id)]
    assert actions.index("comment.added") < actions.index("task.completed")
    assert verify_chain(db, case.id)["ok"]
