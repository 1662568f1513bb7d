"""What one engine step costs, and how it grows with the age of a case.

1. A user task in a loop, completed K times: time of one complete_task (load + checks + run + save +
   indexes + history, one transaction) at several ages, as a ratio to the fresh case measured in the same run.
   SpiffWorkflow keeps every iteration in the task tree; engine/workflow/pruning.py drops the finished past before
   each save, so this stays flat (bench/case_age.py measures it at 1,000 prior steps). The shipped library
   still keeps cases bounded (audits, annual reports and renewals are linked cases, not loops).
2. The shipped accreditation case: serialized state size and step time at award and after a full
   three-year maintenance cycle (clock moved), showing that the bounded design keeps it flat.

    python bench/step_cost.py
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ACCREDIT_PASSWORD_HASH", "fast")

import sqlalchemy as sa  # noqa: E402

from engine.actors import Actor  # noqa: E402
from engine.definitions.bundles import read_directories  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from engine.storage.models import Case  # noqa: E402
from engine.cases.services import Engine  # noqa: E402
from tests.engine.bpmn_builder import SIMPLE_FORM, flow, process, user_task  # noqa: E402


def loop_bundle():
    body = ('<bpmn:startEvent id="start"/>' + user_task("again", "Again", "simple.json")
            + '<bpmn:exclusiveGateway id="more" name="More?" default="f_end"/><bpmn:endEvent id="end"/>'
            + flow("f1", "start", "again") + flow("f2", "again", "more")
            + flow("f_again", "more", "again", 'answer == "yes"', "Again") + flow("f_end", "more", "end", name="Done"))
    return {"loop.bpmn": process("loop", {"applicant": ["start", "again", "more", "end"]}, body),
            "simple.json": SIMPLE_FORM}


def state_size(db, case_id):
    with db.read() as s:
        return len(s.scalar(sa.select(Case.state).where(Case.id == case_id)))


def fresh_engine():
    db = Database(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite")
    db.migrate()
    return db, Engine(db)


def loop_ages(ages=(1, 50, 100, 200, 300)):
    db, engine = fresh_engine()
    engine.deploy(loop_bundle())
    alice = Actor("alice", {"applicant"}, "lab-a")
    case = engine.start_case("loop", alice, "lab-a")
    results, done = {}, 0
    for age in ages:
        while done < age - 1:
            engine.complete_task(engine.ready_tasks(case.id)[0].id, alice, {"answer": "yes"})
            done += 1
        samples = []
        for _ in range(5):
            task = engine.ready_tasks(case.id)[0]
            t0 = time.perf_counter()
            engine.complete_task(task.id, alice, {"answer": "yes"})
            samples.append(time.perf_counter() - t0)
            done += 1
        results[age] = (statistics.median(samples), state_size(db, case.id))
    base = results[ages[0]][0]
    print("1. user-task loop: one complete_task by case age")
    for age, (t, size) in results.items():
        print(f"   age {age:4} iterations: {t * 1000:7.1f} ms/step  ({t / base:5.1f}x fresh)  state {size / 1024:7.1f} KiB")


def accreditation_cycle():
    import time_machine

    from engine.users.identity import Identity
    from engine.cases.workspace import Workspace
    from tests.scenarios.harness import PEOPLE, T0, Driver
    from tests.scenarios.test_accreditation import awarded

    db, engine = fresh_engine()
    engine.deploy(read_directories(ROOT / "processes", ROOT / "forms"))
    identity = Identity(db)
    for org in ("lab-a", "lab-b"):
        identity.create_organisation(org, org)
    for a in PEOPLE.values():
        identity.create_user(a.username, "bench-password", a.roles, organisation_id=a.organisation_id)
    with time_machine.travel(T0, tick=False) as clock:
        d = Driver(engine, Workspace(db, engine, identity, Path(tempfile.mkdtemp())), clock)
        t0 = time.perf_counter()
        case = awarded(d)
        to_award = time.perf_counter() - t0
        at_award = state_size(db, case.id)
        t0 = time.perf_counter()
        for _ in range(35):
            d.later(days=31)
        cycle = time.perf_counter() - t0
        at_35_months = state_size(db, case.id)
        linked = len(engine.linked_cases(case.id))
        t0 = time.perf_counter()
        received = engine.deliver_message("change_notification", {"change_type": "director"}, organisation_id="lab-a")
        message_step = time.perf_counter() - t0
    print("2. shipped accreditation case")
    print(f"   application to award (24 steps): {to_award * 1000:.0f} ms; state at award {at_award / 1024:.1f} KiB")
    print(f"   35 months of maintenance ({linked} linked cases opened): {cycle * 1000:.0f} ms of timer firing; "
          f"state {at_35_months / 1024:.1f} KiB ({at_35_months / at_award:.2f}x the state at award)")
    print(f"   one message step at 35 months: {message_step * 1000:.1f} ms (delivered to {len(received)} case)")


if __name__ == "__main__":
    loop_ages()
    accreditation_cycle()
