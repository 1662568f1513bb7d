"""Scale-out on one PostgreSQL, with real processes on 127.0.0.1: gunicorn workers (`accredit serve --workers
2`) answering real HTTP, and standalone `accredit scheduler` processes. Each test has a fresh database
(``pg_db``) and skips with the reason when no PostgreSQL answers. Nothing here times anything: every wait is
on a condition with a deadline."""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.actors import Actor
from engine.users.identity import Identity
from engine.storage.models import Event, Setting
from engine.cases.services import Engine
from tests.servers import Server, owner_of_local_port, request, server_env, wait_for

from ..engine.bpmn_builder import two_step
from ..engine.test_messages_timers import timer_bundle

pytestmark = pytest.mark.postgres

ALICE = Actor("alice", {"applicant"}, "lab-a", "Alice")
CAROL = Actor("carol", {"coordinator"}, None, "Carol")


def _people(pg_db, users):
    identity = Identity(pg_db)
    identity.create_organisation("lab-a", "Lab A")
    tokens = {}
    for actor in users:
        identity.create_user(actor.username, "correct-horse-battery", sorted(actor.roles),
                             organisation_id=actor.organisation_id, display_name=actor.display_name)
        tokens[actor.username] = identity.issue_token(actor.username, "tests")
    return tokens


def _is_problem(status, headers, body, code=409) -> bool:
    return (status == code and headers.get("Content-Type", "").startswith("application/problem+json")
            and isinstance(body, dict) and body.get("status") == code and body.get("detail"))


def _together(calls):
    """Run the zero-argument ``calls`` at once (a barrier), each in its own thread; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i):
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - reported by the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_many_clients_on_one_task_one_wins_the_rest_get_a_clean_409(pg_db, tmp_path):
    engine = Engine(pg_db)
    engine.deploy(two_step())
    token = _people(pg_db, [ALICE])["alice"]
    cases = [engine.start_case("two_step", ALICE, "lab-a") for _ in range(3)]
    with Server(server_env(pg_db.url, tmp_path), workers=2) as server:
        for case in cases:
            path = f"/api/tasks/{case.tasks[0].id}/complete"
            results = _together([lambda: request(server.port, "POST", path, {"data": {"answer": "yes"}}, token)
                                 for _ in range(8)])
            statuses = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
            assert statuses.count(200) == 1, statuses
            assert all(_is_problem(*r) for r in results if r[0] != 200), results
    for case in cases:  # nothing half-written: one completion, the case moved exactly one step
        assert [e["element_id"] for e in engine.history(case.id) if e["action"] == "task.completed"] == ["ask"]
        assert [t.element_id for t in engine.get_case(case.id).tasks] == ["review"]
        assert [t.element_id for t in engine.ready_tasks(case.id)] == ["review"]


def _to_checklists(pg_db, tmp_path, n_cases):
    """Cases of the shipped accreditation process driven to the inspection: two checklists ready in each."""
    from engine.config import forms_dir, processes_dir
    from engine.definitions.bundles import read_directories
    from engine.cases.workspace import Workspace

    from ..scenarios.harness import PEOPLE, Driver, create_people

    engine = Engine(pg_db, script_time_limit=2.0)
    engine.deploy(read_directories(processes_dir(), forms_dir()), deployed_by="system")
    identity = Identity(pg_db)
    create_people(identity)
    tokens = {who: identity.issue_token(PEOPLE[who].username, "tests") for who in ("lead", "insp2")}
    d = Driver(engine, Workspace(pg_db, engine, identity, tmp_path / "files"), clock=None)
    cases = []
    for _ in range(n_cases):
        case = d.start("accreditation")
        for element, who in [("eligibility_application", "alice"), ("eligibility_review", "carol"),
                             ("compliance_application", "alice"), ("desk_review", "carol"),
                             ("schedule_inspection", "carol"), ("confirm_inspection_dates", "alice"),
                             ("assign_inspectors", "carol"), ("declare_conflict_of_interest", "lead"),
                             ("declare_conflict_of_interest", "insp2"), ("review_inspection_team", "alice")]:
            d.do(case.id, element, who)
        assert d.ready_ids(case.id) == ["inspection_checklist", "inspection_checklist"]
        cases.append(case)
    return engine, d, tokens, cases


def test_parallel_inspectors_on_one_case_all_succeed_or_retry_cleanly(pg_db, tmp_path):
    from ..scenarios.forms_data import form

    engine, d, tokens, cases = _to_checklists(pg_db, tmp_path, 3)
    retried = []
    with Server(server_env(pg_db.url, tmp_path), workers=2) as server:
        def inspector(task_id, who):
            def call():
                for _attempt in range(10):
                    r = request(server.port, "POST", f"/api/tasks/{task_id}/complete",
                                {"data": form("inspection_checklist")}, tokens[who])
                    if r[0] == 200:
                        return r
                    assert _is_problem(*r), r  # anything but a clean, retryable 409 is a failure
                    retried.append(r[2]["detail"])
                return r
            return call

        calls = [inspector(d.task(case.id, "inspection_checklist", who).id, who)
                 for case in cases for who in ("lead", "insp2")]
        results = _together(calls)
    assert [r[0] if isinstance(r, tuple) else repr(r) for r in results] == [200] * len(calls), (results, retried)
    for case in cases:  # both checklists recorded once each; the team leader's report is next
        done = [e for e in engine.history(case.id) if e["action"] == "task.completed"
                and e["element_id"] == "inspection_checklist"]
        assert sorted(e["actor"] for e in done) == ["insp.lead", "insp2"]
        assert d.ready_ids(case.id) == ["inspection_report"]
        d.do(case.id, "inspection_report", "lead")  # and the case goes on from a consistent state
        assert d.ready_ids(case.id) == ["committee_decision"]


_WRITING = sa.text("SELECT pid, client_port FROM pg_stat_activity WHERE datname = current_database() "
                   "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL AND client_port IS NOT NULL")
_OPEN_TRANSACTIONS = sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")


def test_a_worker_killed_inside_a_transaction_leaves_nothing_half_done(pg_db, tmp_path):
    """A burst of completions; a watcher SIGKILLs the gunicorn worker whose database connection holds a write
    transaction (a case row lock) at that moment. Its client's request dies with it; every case is then either
    untouched or completed once, no lock stays behind, and the next request on the killed case succeeds."""
    engine = Engine(pg_db)
    engine.deploy(two_step())
    token = _people(pg_db, [ALICE])["alice"]
    cases = [engine.start_case("two_step", ALICE, "lab-a") for _ in range(40)]
    pending = list(cases)
    lock = threading.Lock()
    outcomes = {}  # case id -> status or the exception of the request
    killed = {}
    watcher = sa.create_engine(pg_db.url, isolation_level="AUTOCOMMIT")
    with Server(server_env(pg_db.url, tmp_path), workers=2) as server:
        def client():
            while True:
                with lock:
                    if not pending:
                        return
                    case = pending.pop(0)
                try:
                    outcomes[case.id] = request(server.port, "POST", f"/api/tasks/{case.tasks[0].id}/complete",
                                                {"data": {"answer": "yes"}}, token, timeout=60)[0]
                except (http.client.HTTPException, OSError) as exc:
                    outcomes[case.id] = exc

        def watch():
            workers = server.worker_pids()
            with watcher.connect() as conn:
                while pending or any(t.is_alive() for t in clients):
                    for _pid, port in conn.execute(_WRITING):
                        owner = owner_of_local_port(workers, port)
                        if owner is not None:
                            os.kill(owner, signal.SIGKILL)
                            killed["pid"] = owner
                            return

        clients = [threading.Thread(target=client) for _ in range(4)]
        for t in clients:
            t.start()
        watch()
        for t in clients:
            t.join(120)
        assert killed, "the burst ended before a worker was seen inside a write transaction"
        lost = [case_id for case_id, outcome in outcomes.items() if isinstance(outcome, Exception)]
        assert lost, "the killed worker was serving no request"
        assert all(o in (200, 409) or isinstance(o, Exception) for o in outcomes.values()), outcomes
        with watcher.connect() as conn:  # the dead connection's transaction is rolled back, its lock released
            wait_for(lambda: conn.execute(_OPEN_TRANSACTIONS).scalar() == 0, 30, "no transaction left open")
        wait_for(lambda: len(server.worker_pids()) == 2 and killed["pid"] not in server.worker_pids(), 60,
                 "gunicorn to replace the killed worker")
        for case in cases:  # all or nothing per case
            done = [e["element_id"] for e in engine.history(case.id) if e["action"] == "task.completed"]
            ready = [t.element_id for t in engine.ready_tasks(case.id)]
            assert (done, ready) in ((["ask"], ["review"]), ([], ["ask"])), (case.id, outcomes[case.id], done, ready)
            if outcomes[case.id] == 200:
                assert done == ["ask"]
        for case in cases:  # no stuck lock: the next request on every case goes through
            ready = engine.ready_tasks(case.id)
            if ready[0].element_id == "ask":
                status = request(server.port, "POST", f"/api/tasks/{ready[0].id}/complete",
                                 {"data": {"answer": "yes"}}, token, timeout=30)[0]
                assert status == 200, (case.id, status)
            assert [t.element_id for t in engine.ready_tasks(case.id)] == ["review"]
    watcher.dispose()


def _scheduler(pg_db, tmp_path, n):
    env = server_env(pg_db.url, tmp_path, PYTHONFAULTHANDLER="1")  # SIGABRT dumps every thread's stack
    return subprocess.Popen([sys.executable, "-m", "api.cli", "scheduler", "--resync", "2"], env=env,
                            stdout=open(tmp_path / f"scheduler-{n}.log", "w"), stderr=subprocess.STDOUT)


def test_two_scheduler_processes_fire_each_due_timer_exactly_once(pg_db, tmp_path):
    """Two real `accredit scheduler` processes, both running: every case the API starts with overdue timers
    NOTIFYs both, both race to fire; each timer's `timer.fired` event is in the history exactly once."""
    engine = Engine(pg_db)
    engine.deploy(timer_bundle())
    procs = [_scheduler(pg_db, tmp_path, n) for n in range(2)]
    try:
        def beating():
            with pg_db.read() as s:
                return len(s.scalars(sa.select(Setting.key).where(Setting.key.like("scheduler:%"))).all()) == 2

        wait_for(beating, 60, "both schedulers' heartbeats")
        with time_machine.travel(datetime.now(timezone.utc) - timedelta(days=5), tick=False):
            cases = [engine.start_case("deadline", ALICE, "lab-a").id for _ in range(16)]  # reminder + deadline overdue

        def fired():
            with pg_db.read() as s:
                return s.scalar(sa.select(sa.func.count()).select_from(Event)
                                .where(Event.action == "timer.fired")) >= 2 * len(cases)

        wait_for(fired, 120, "every overdue timer to fire")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(timeout=120))
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGABRT)  # where it hangs goes to its log
                codes.append(f"still running 120 s after SIGTERM: {p.wait()}")
    assert codes == [0, 0], (codes, [(tmp_path / f"scheduler-{n}.log").read_text()[-3000:] for n in range(2)])
    with pg_db.read() as s:
        for case_id in cases:
            fired_ids = s.scalars(sa.select(Event.element_id).where(Event.case_id == case_id,
                                                                    Event.action == "timer.fired")).all()
            assert sorted(fired_ids) == ["lapse", "remind"], (case_id, fired_ids)
        assert s.scalars(sa.select(Setting.key).where(Setting.key.like("scheduler:%"))).all() == []
    assert all(engine.get_case(c).outcome == "ended_lapsed" for c in cases)


def test_text_postgresql_cannot_hold_gets_a_400_from_a_real_worker_not_a_500(pg_db, tmp_path):
    """A NUL character (no PostgreSQL text column holds one) and NaN (no JSON column holds one), through a real
    worker on a real PostgreSQL: 400 problems naming the field, before any statement (the driver's refusal was a
    500: a business key, a message payload reaching the case history)."""
    engine = Engine(pg_db)
    engine.deploy(two_step())
    token = _people(pg_db, [ALICE])["alice"]
    case = engine.start_case("two_step", ALICE, "lab-a")
    with Server(server_env(pg_db.url, tmp_path), workers=1) as server:
        status, headers, body = request(server.port, "POST", "/api/cases",
                                        {"process": "two_step", "business_key": "LAB\u0000-1"}, token)
        assert _is_problem(status, headers, body, 400) and body["errors"][0]["field"] == "/business_key", body
        status, headers, body = request(server.port, "GET", f"/api/tasks/{case.tasks[0].id}%00", None, token)
        assert _is_problem(status, headers, body, 400), body
        status, headers, body = request(server.port, "GET", f"/api/cases/{case.id}", None, token)
        assert status == 200, body
        assert "unhandled error" not in server.output()
