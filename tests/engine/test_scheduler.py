"""The timer scheduler: exact wake-ups with APScheduler (real scheduler thread, clock moved with
time_machine), catch-up after downtime in due order, cycle timers overdue by several periods, failing
timers that neither stop the others nor spin, notifications, and two real scheduler processes on one
PostgreSQL never firing a timer twice."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

from engine.storage.models import Event, Notification
from engine.scheduler import JOB_ID, TimerScheduler
from engine.cases.services import Engine

from .bpmn_builder import SIMPLE_FORM, flow, process, user_task
from .test_messages_timers import T0, timer_bundle


def _run_job_now(sched: TimerScheduler, clock=None, to=None):
    """Move the clock to ``to`` (if given), wake the real scheduler thread and wait (bounded) until its timer
    job has run. The listener is in place before the clock moves: the scheduler thread also wakes on its own
    (its heartbeat job), and a run it makes between the move and the wake-up must not be missed."""
    done = threading.Event()

    def listener(event):
        if event.job_id == JOB_ID:
            done.set()

    sched._scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    if clock is not None:
        clock.move_to(to)
    sched._scheduler.wakeup()
    assert done.wait(10), "the scheduler did not run its job"
    sched._scheduler.remove_listener(listener)


@pytest.fixture
def scheduled(engine):
    engine.deploy(timer_bundle())
    scheds = []

    def make(**kw):
        s = TimerScheduler(engine, resync_seconds=0, **kw)
        scheds.append(s)
        return s.start()

    yield make
    for s in scheds:
        s.shutdown()


def test_wakes_exactly_at_the_next_due_timer_and_rearms(engine, actors, scheduled):
    with time_machine.travel(T0, tick=False) as clock:
        case = engine.start_case("deadline", actors["applicant"], "lab-a")
        sched = scheduled()
        assert sched.next_wakeup() == T0 + timedelta(days=1, milliseconds=1)
        _run_job_now(sched, clock, T0 + timedelta(days=1, seconds=1))
        assert [e["element_id"] for e in engine.history(case.id) if e["action"] == "timer.fired"] == ["remind"]
        assert sched.next_wakeup() == T0 + timedelta(days=3, milliseconds=1)
        # completing the task removes its deadline: the scheduler has nothing left to wait for
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
        assert sched.next_wakeup() is None


def test_new_earlier_timer_rearms_the_embedded_scheduler(engine, actors, scheduled):
    with time_machine.travel(T0, tick=False) as clock:
        engine.start_case("deadline", actors["applicant"], "lab-a")
        sched = scheduled()
        first = sched.next_wakeup()
        clock.move_to(T0 - timedelta(hours=5))  # a case started "earlier" gets an earlier timer
        engine.start_case("deadline", actors["applicant"], "lab-a")
        assert sched.next_wakeup() < first


def test_downtime_catch_up_fires_every_overdue_timer_once_in_due_order(engine, actors, scheduled, db):
    with time_machine.travel(T0, tick=False) as clock:
        late = engine.start_case("deadline", actors["applicant"], "lab-a")
        clock.move_to(T0 - timedelta(hours=2))
        early = engine.start_case("deadline", actors["applicant"], "lab-a")
        clock.move_to(T0 + timedelta(days=10))  # the server was down for ten days
        scheduled()  # start() catches up
        for case in (early, late):
            fired = [e["element_id"] for e in engine.history(case.id) if e["action"] == "timer.fired"]
            assert fired == ["remind", "lapse"]
            assert engine.get_case(case.id).outcome == "ended_lapsed"
    with db.engine.connect() as conn:
        order = [r.case_id for r in conn.execute(sa.select(Event.case_id).where(Event.action == "timer.fired")
                                                 .order_by(Event.id))]
    assert order.index(early.id) < order.index(late.id)


def test_shutdown_while_a_firing_runs_lets_it_finish_and_returns(engine, actors, db):
    """SIGTERM can arrive while the timer job runs. APScheduler's shutdown holds its job-store lock while it
    waits for running jobs, and the firing re-arms at its end (which takes that lock): the scheduler must not
    wait for itself. The firing is held inside its write by a real SQLite write lock until shutdown waits."""
    import sqlite3

    from apscheduler.events import EVENT_JOB_SUBMITTED
    from apscheduler.schedulers.base import STATE_STOPPED

    engine.deploy(timer_bundle())
    with time_machine.travel(T0, tick=False) as clock:
        case = engine.start_case("deadline", actors["applicant"], "lab-a")
        sched = TimerScheduler(engine, resync_seconds=0).start()
        running = threading.Event()
        sched._scheduler.add_listener(lambda e: e.job_id == JOB_ID and running.set(), EVENT_JOB_SUBMITTED)
        blocker = sqlite3.connect(db.engine.url.database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the firing's write transaction will wait for this one
        try:
            clock.move_to(T0 + timedelta(days=1, seconds=1))
            sched._scheduler.wakeup()
            assert running.wait(10), "the timer job did not start"
            stopper = threading.Thread(target=sched.shutdown)
            stopper.start()
            lock = sched._scheduler._jobstores_lock

            def shutdown_waits_for_the_job():
                if sched._scheduler.state != STATE_STOPPED or not stopper.is_alive():
                    return False
                if lock.acquire(blocking=False):
                    lock.release()
                    return False
                return True  # held by the shutting-down thread, which now waits for the running firing

            for _ in range(2000):  # the clock is frozen: a bounded number of polls, not a deadline
                if shutdown_waits_for_the_job():
                    break
                threading.Event().wait(0.005)
            else:
                raise AssertionError("shutdown never started waiting for the firing")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        stopper.join(20)
        assert not stopper.is_alive(), "shutdown deadlocked with the firing it waited for"
    assert [e["element_id"] for e in engine.history(case.id) if e["action"] == "timer.fired"] == ["remind"]


def cycle_bundle():
    body = (
        '<bpmn:startEvent id="start"/>' + user_task("answer", "Answer", "simple.json")
        + '<bpmn:boundaryEvent id="nag" name="Hourly nag" attachedToRef="answer" cancelActivity="false">'
          '<bpmn:timerEventDefinition><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">"R5/PT1H"</bpmn:timeCycle>'
          '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        + '<bpmn:endEvent id="nagged" name="Nag sent"/><bpmn:endEvent id="done" name="Done"/>'
        + flow("c1", "start", "answer") + flow("c2", "answer", "done") + flow("c3", "nag", "nagged"))
    return {"cycle.bpmn": process("cycle", {"applicant": ["start", "answer", "nag", "nagged", "done"]}, body),
            "simple.json": SIMPLE_FORM}


def test_cycle_timer_overdue_by_several_periods_fires_each_period(engine, actors):
    engine.deploy(cycle_bundle())
    with time_machine.travel(T0, tick=False) as clock:
        case = engine.start_case("cycle", actors["applicant"], "lab-a")
        clock.move_to(T0 + timedelta(hours=3, minutes=30))
        engine.fire_due_timers()
        fired = [e for e in engine.history(case.id) if e["action"] == "element.completed"
                 and e["element_id"] == "nagged"]
        assert len(fired) == 3
        assert engine.get_case(case.id).tasks[0].element_id == "answer"
        assert engine.next_timer_due() == T0 + timedelta(hours=4)


def test_reminder_puts_a_notification_in_the_outbox(engine, actors, db):
    engine.deploy(timer_bundle())
    with time_machine.travel(T0, tick=False) as clock:
        case = engine.start_case("deadline", actors["applicant"], "lab-a")
        clock.move_to(T0 + timedelta(days=1, seconds=1))
        engine.fire_due_timers()
    with db.read() as s:
        [note] = s.scalars(sa.select(Notification)).all()
        assert (note.case_id, note.recipient, note.kind) == (case.id, "role:applicant", "reminder")
        assert "Answer" in note.subject


def failing_bundle():
    body = (
        '<bpmn:startEvent id="start"/>'
        + '<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition>'
          '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1H"</bpmn:timeDuration>'
          '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
        + '<bpmn:scriptTask id="boom" name="Boom"><bpmn:script>x = 1 / 0</bpmn:script></bpmn:scriptTask>'
        + '<bpmn:endEvent id="end"/>'
        + flow("b1", "start", "wait") + flow("b2", "wait", "boom") + flow("b3", "boom", "end"))
    return {"failing.bpmn": process("failing", {"applicant": ["start", "wait", "boom", "end"]}, body)}


def test_a_failing_timer_is_recorded_and_does_not_block_others(engine, actors, scheduled, db):
    engine.deploy(failing_bundle())
    with time_machine.travel(T0, tick=False) as clock:
        bad = engine.start_case("failing", actors["applicant"], "lab-a")
        good = engine.start_case("deadline", actors["applicant"], "lab-a")
        clock.move_to(T0 + timedelta(days=2))
        sched = scheduled()
        assert engine.failed_timer_cases == [bad.id]
        assert [e["element_id"] for e in engine.history(good.id) if e["action"] == "timer.fired"] == ["remind"]
        assert engine.get_case(bad.id).status == "running"  # untouched, the timer still pending
        assert sched.next_wakeup() >= T0 + timedelta(days=2, seconds=59)  # retried later, not in a hot loop
    with db.read() as s:
        failures = s.scalars(sa.select(Event).where(Event.action == "timer.failed")).all()
        assert failures and failures[0].data["case_id"] == bad.id and "division by zero" in failures[0].data["message"]


def test_a_failing_timer_is_retried_when_due_not_pushed_back_by_every_rearm(engine, actors, scheduled):
    """Re-arms come all the time (the resync interval, every timer-changing commit's NOTIFY on PostgreSQL): each must keep the
    retry time set when the timer failed, or the retry — and every other timer — never comes."""
    engine.deploy(failing_bundle())
    with time_machine.travel(T0, tick=False) as clock:
        engine.start_case("failing", actors["applicant"], "lab-a")
        clock.move_to(T0 + timedelta(days=2))
        sched = scheduled()
        retry = sched.next_wakeup()
        assert retry == T0 + timedelta(days=2, seconds=60)
        clock.move_to(T0 + timedelta(days=2, seconds=30))
        sched.rearm()
        assert sched.next_wakeup() == retry
        clock.move_to(T0 + timedelta(days=2, seconds=61))
        sched.rearm()  # overdue retry: run now, not another minute later
        assert sched.next_wakeup() == T0 + timedelta(days=2, seconds=61)


def test_a_case_that_cannot_be_loaded_is_recorded_and_the_rest_of_the_batch_fires(engine, actors, db):
    """Not only diagram errors: a case whose stored state this version cannot read (anything but the database
    itself failing) is rolled back, put on record, and every other due case in the batches still fires."""
    from engine.cases import timers
    from engine.storage.models import Case

    engine.deploy(timer_bundle())
    with time_machine.travel(T0, tick=False) as clock:
        cases = []
        for i in range(7):
            clock.move_to(T0 + timedelta(minutes=i))  # due one after the other: the broken one mid-batch
            cases.append(engine.start_case("deadline", actors["applicant"], "lab-a").id)
        broken = cases[3]
        with db.write() as s:
            s.execute(sa.update(Case).where(Case.id == broken).values(state='{"unreadable": '))
        clock.move_to(T0 + timedelta(days=1, hours=1))
        advanced, failed = timers.drain(engine, batch_size=2)  # four batches of the timer index
        assert advanced == [c for c in cases if c != broken]  # in due order, each once
        assert failed == [broken]
        assert timers.drain(engine, batch_size=2) == ([], [broken])  # still due, tried again, nothing refired
    for case_id in advanced:
        assert [e["element_id"] for e in engine.history(case_id) if e["action"] == "timer.fired"] == ["remind"]
    assert not [e for e in engine.history(broken) if e["action"] == "timer.fired"]
    with db.read() as s:
        failures = s.scalars(sa.select(Event).where(Event.action == "timer.failed")).all()
    assert [f.data["case_id"] for f in failures] == [broken, broken]
    assert failures[0].data["kind"] == "internal-error" and "JSONDecodeError" in failures[0].data["message"]


DOUBLE_FIRE_SCRIPT = """
import os, sys
from engine.cases import timers
from engine.storage.db import Database
from engine.cases.services import Engine
engine = Engine(Database(os.environ["DATABASE_URL"]))
sys.stdin.readline()  # both processes start firing together
total = []
for _ in range(3):
    total += timers.drain(engine, batch_size=5)[0]  # the real drain, in several batches of the timer index
print(len(total))
"""


@pytest.mark.postgres
def test_two_scheduler_processes_never_fire_a_timer_twice(pg_db, actors):
    engine = Engine(pg_db)
    engine.deploy(timer_bundle())
    past = datetime.now(timezone.utc) - timedelta(days=5)
    with time_machine.travel(past, tick=False):
        cases = [engine.start_case("deadline", actors["applicant"], "lab-a").id for _ in range(24)]
    env = {**os.environ, "DATABASE_URL": pg_db.url}
    procs = [subprocess.Popen([sys.executable, "-c", DOUBLE_FIRE_SCRIPT], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outputs]
    advanced = [int(o[0].strip().splitlines()[-1]) for o in outputs]
    assert sum(advanced) == len(cases)  # every case advanced by exactly one of the two
    with pg_db.read() as s:
        for case_id in cases:
            fired = s.scalars(sa.select(Event.element_id).where(Event.case_id == case_id,
                                                                Event.action == "timer.fired")).all()
            assert sorted(fired) == ["lapse", "remind"], (case_id, fired)


def test_timer_of_a_migrated_case_fires_at_its_original_due_time(engine, actors):
    """Migrating a case to a new version keeps its pending deadline; the scheduler fires it as drawn."""
    from engine.actors import Actor
    from engine.cases.deployment import Deployment
    from engine.cases.migration import Migration

    quality = Actor("quinn", {"quality_manager"}, None, "Quinn QM")
    engine.deploy(timer_bundle())
    v2 = timer_bundle()
    v2["deadline.bpmn"] = v2["deadline.bpmn"].replace('name="Reminder sent"', 'name="Reminder sent (v2)"')
    with time_machine.travel(T0, tick=False) as clock:
        case = engine.start_case("deadline", actors["applicant"], "lab-a")
        Deployment(engine).deploy(v2, quality, "reminder renamed")
        clock.move_to(T0 + timedelta(hours=6))
        report = Migration(engine).migrate_case(case.id, quality)
        assert report["migrated"], report
        assert engine.get_case(case.id).definition_version == 2
        assert engine.next_timer_due() == T0 + timedelta(days=1)  # not restarted by the migration
        clock.move_to(T0 + timedelta(days=3, seconds=1))
        engine.fire_due_timers()
    fired = [e["element_id"] for e in engine.history(case.id) if e["action"] == "timer.fired"]
    assert fired == ["remind", "lapse"] and engine.get_case(case.id).outcome == "ended_lapsed"


def test_the_accredit_scheduler_command_fires_overdue_timers_and_stops_cleanly(tmp_path, actors):
    """The real `accredit scheduler` process: catches up on an overdue timer at start, exits on SIGTERM."""
    import signal

    from engine.storage.db import Database

    url = f"sqlite:///{tmp_path / 'sched.sqlite'}"
    db = Database(url)
    db.migrate()
    engine = Engine(db)
    engine.deploy(timer_bundle())
    with time_machine.travel(datetime.now(timezone.utc) - timedelta(days=4), tick=False):
        case = engine.start_case("deadline", actors["applicant"], "lab-a")  # reminder and deadline both overdue
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "scheduler", "--resync", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, proc.kill)  # bounds the wait below if the process hangs
    watchdog.start()
    try:
        lines = []
        for line in proc.stdout:  # the scheduler reports each firing on stdout
            lines.append(line)
            if "advanced 1 case(s)" in line:
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
    assert proc.returncode == 0, ("".join(lines), err[-2000:])
    assert "stopped" in out
    fired = [e["element_id"] for e in engine.history(case.id) if e["action"] == "timer.fired"]
    assert fired == ["remind", "lapse"]
    assert engine.get_case(case.id).outcome == "ended_lapsed"


@pytest.mark.postgres
def test_standalone_scheduler_on_postgresql_rearms_when_another_process_adds_a_timer(pg_db, actors):
    """No polling: the other process's commit NOTIFYs, the scheduler re-arms for the earlier timer at once."""
    api_side = Engine(pg_db)
    api_side.deploy(timer_bundle())
    sched = TimerScheduler(Engine(pg_db), resync_seconds=0).start()  # its own engine: nothing shared in memory
    try:
        assert sched.next_wakeup() is None
        sched.rearmed.clear()
        case = api_side.start_case("deadline", actors["applicant"], "lab-a")
        reminder = api_side.next_timer_due()
        deadline = datetime.now(timezone.utc) + timedelta(seconds=30)
        while sched.next_wakeup() is None and datetime.now(timezone.utc) < deadline:
            sched.rearmed.wait(1)
            sched.rearmed.clear()
        assert sched.next_wakeup() == reminder + timedelta(milliseconds=1), case.id
    finally:
        sched.shutdown()


@pytest.mark.postgres
def test_on_postgresql_only_an_operation_that_changes_the_timers_wakes_the_schedulers(pg_db, actors):
    """`NOTIFY accredit_timers` is a round trip of every transaction that sends it and wakes every scheduler:
    a completion that adds or removes no timer row sends none; one that does (here a case started with a
    deadline) sends it. Notifications arrive in commit order, so the test's own marker, sent last, closes the
    list without waiting for a notification that must not come."""
    import psycopg

    from engine.cases.operation import TIMERS_CHANNEL

    from .bpmn_builder import two_step

    engine = Engine(pg_db)
    engine.deploy(two_step())
    engine.deploy(timer_bundle())
    plain = engine.start_case("two_step", actors["applicant"], "lab-a")
    url = pg_db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {TIMERS_CHANNEL}")
        engine.complete_task(plain.tasks[0].id, actors["applicant"], {"answer": "yes"})  # no timer: no NOTIFY
        engine.start_case("deadline", actors["applicant"], "lab-a")  # a reminder and a deadline: NOTIFY
        with psycopg.connect(url, autocommit=True) as other:
            other.execute(f"NOTIFY {TIMERS_CHANNEL}, 'end of test'")
        received = []
        for note in listener.notifies(timeout=30):
            received.append(note.payload)
            if note.payload == "end of test":
                break
    assert received == ["", "end of test"]
