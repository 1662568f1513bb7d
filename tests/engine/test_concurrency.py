"""Two people completing the same task at the same moment: exactly one wins, the other gets a conflict.
On SQLite (BEGIN IMMEDIATE + version check) and on a real PostgreSQL (row lock + version check)."""
from __future__ import annotations

import threading

import pytest

from engine.errors import Conflict
from engine.cases.services import Engine

from .bpmn_builder import two_step


def _race(engine: Engine, task_id, actor, attempts=4):
    barrier = threading.Barrier(attempts)
    results = []

    def worker():
        barrier.wait()
        try:
            engine.complete_task(task_id, actor, {"answer": "yes"})
            results.append("ok")
        except Conflict as exc:
            results.append(f"conflict: {exc.message}")
        except Exception as exc:  # anything else is a bug
            results.append(f"error: {exc!r}")

    threads = [threading.Thread(target=worker) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _check_one_winner(engine, case_id, results):
    assert results.count("ok") == 1, results
    assert all(r.startswith("conflict") for r in results if r != "ok"), results
    completions = [e for e in engine.history(case_id) if e["action"] == "task.completed"]
    assert len(completions) == 1
    assert [t.element_id for t in engine.get_case(case_id).tasks] == ["review"]


def test_sqlite_one_winner(engine, actors):
    engine.deploy(two_step())
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    results = _race(engine, case.tasks[0].id, actors["applicant"])
    _check_one_winner(engine, case.id, results)


@pytest.mark.postgres
def test_postgres_one_winner(pg_db, actors):
    engine = Engine(pg_db)
    engine.deploy(two_step())
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    results = _race(engine, case.tasks[0].id, actors["applicant"])
    _check_one_winner(engine, case.id, results)


@pytest.mark.postgres
def test_postgres_full_flow_and_rollback(pg_db, actors):
    """The same service calls on PostgreSQL: JSON columns, UTC datetimes, rollback on a failing script."""
    from engine.errors import ProcessError

    engine = Engine(pg_db)
    engine.deploy(two_step(script="result = 1 / 0"))
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    with pytest.raises(ProcessError):
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert [t.element_id for t in engine.get_case(case.id).tasks] == ["ask"]
    engine.deploy(two_step())
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "no"})
    assert (case.status, case.outcome) == ("completed", "end_no")
    assert case.created_at.tzinfo is not None


def _parallel(pid="parallel", branches=4):
    """start → parallel split → ``branches`` applicant tasks → parallel join → end."""
    from .bpmn_builder import flow, process, user_task

    ids = [f"t{i}" for i in range(branches)]
    body = ('<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
            '<bpmn:endEvent id="end"/>' + "".join(user_task(t, f"Task {t}") for t in ids)
            + flow("f0", "start", "split") + flow("f9", "join", "end")
            + "".join(flow(f"fa{t}", "split", t) + flow(f"fb{t}", t, "join") for t in ids))
    return {f"{pid}.bpmn": process(pid, {"applicant": ["start", "split", "join", "end", *ids]}, body)}


def test_sqlite_parallel_tasks_of_one_case_completed_at_once_keep_one_chain(db, actors):
    _parallel_tasks_at_once(db, actors)


@pytest.mark.postgres
def test_postgres_parallel_tasks_of_one_case_completed_at_once_keep_one_chain(pg_db, actors):
    """Different tasks of one case completed at the same moment: each waits for the case lock, then continues
    the history chain from the head its predecessor committed (read after the lock, not before it: on
    PostgreSQL a subquery of the locking SELECT reads the snapshot from before the wait)."""
    _parallel_tasks_at_once(pg_db, actors)


def _parallel_tasks_at_once(database, actors):
    from engine.reports.audit import verify_chain

    engine = Engine(database)
    engine.deploy(_parallel())
    case = engine.start_case("parallel", actors["applicant"], "lab-a")
    assert len(case.tasks) == 4
    barrier = threading.Barrier(len(case.tasks))
    results = []

    def worker(task_id):
        barrier.wait()
        try:
            engine.complete_task(task_id, actors["applicant"], {})
            results.append("ok")
        except Exception as exc:  # noqa: BLE001 - every failure is a finding here
            results.append(f"error: {exc!r}")

    threads = [threading.Thread(target=worker, args=(t.id,)) for t in case.tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["ok"] * 4, results
    events = engine.history(case.id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert engine.get_case(case.id).status == "completed"
    assert verify_chain(database, case.id)["ok"]
