"""How fast are 10,000 due timers drained? (issue 13 target: >= 500 timers/s)

One case is started normally, its clock set in the past so that its timer is due now; its rows (the case,
its history chain, inbox, timer, subscription and team rows, attachments) are then cloned by SQL into N cases,
every task id and the case id rewritten, so the N cases are what N real starts would have left. The drain is
the real firing path, :meth:`Engine.fire_due_timers` (what ``accredit timers fire`` and the scheduler call):
per case lock, load, refresh timers, advance, save, history, commit.

Two kinds of case:

* ``deadline`` (default, 10,000 cases): a person's task with a reminder boundary timer (a day) and a
  deadline (three days), as the shipped diagrams draw task deadlines; the reminder is due, so draining fires
  it, records it and puts a notification in the outbox.
* ``shipped`` (default 1,000 cases): an awarded case of the shipped accreditation process waiting on its
  surveillance and anniversary timers a year on; each firing throws messages that start a surveillance audit
  and an annual report as linked cases (three cases written per firing).

Baseline, measured in the same run on the same database: an ORM single-row commit (the floor of any write).

    python bench/timer_drain.py [--kind deadline|shipped] [--cases N] [--database URL]
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
import time_machine  # noqa: E402

from engine.storage.db import Database  # noqa: E402
from engine.storage.models import Base, Case, Event, Organisation, Timer, utcnow  # noqa: E402
from engine.cases.services import Engine  # noqa: E402

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def shipped_files() -> dict[str, str]:
    """The shipped library's files (``processes/`` + ``forms/``), read as the scenario tests read them."""
    try:
        from engine.definitions.bundles import read_directories  # where the reader lives once the library is split
    except ImportError:
        from engine.definitions.library import read_directories
    return read_directories(ROOT / "processes", ROOT / "forms")


# -- building the cases ------------------------------------------------------------------------------

def deadline_template(engine: Engine, tmp: Path) -> str:
    from engine.actors import Actor
    from tests.engine.test_messages_timers import timer_bundle

    engine.deploy(timer_bundle())
    applicant = Actor("alice", {"applicant"}, "lab-a", "Alice")
    # started two days ago: the reminder (one day) is due, the deadline (three days) is not
    with time_machine.travel(datetime.now(timezone.utc) - timedelta(days=2), tick=False):
        return engine.start_case("deadline", applicant, "lab-a").id


def shipped_template(engine: Engine, tmp: Path) -> str:
    from engine.users.identity import Identity
    from engine.cases.workspace import Workspace
    from tests.scenarios.harness import PEOPLE, Driver
    from tests.scenarios.test_accreditation import awarded

    engine.deploy(shipped_files(), deployed_by="system")
    identity = Identity(engine.db)
    for org in ("lab-a", "lab-b"):
        identity.create_organisation(org, org)
    for actor in PEOPLE.values():
        identity.create_user(actor.username, "bench-password-1", actor.roles, display_name=actor.display_name,
                             organisation_id=actor.organisation_id)
    workspace = Workspace(engine.db, engine, identity, tmp / "files")
    # awarded 370 days ago: the first surveillance audit and annual report are due, renewal and expiry are not
    with time_machine.travel(datetime.now(timezone.utc) - timedelta(days=370), tick=False) as clock:
        return awarded(Driver(engine, workspace, clock)).id


def clone(db: Database, template_id: str, n: int) -> None:
    """Copy every row of the template case into ``n`` new cases, ids rewritten (task ids are unique per case)."""
    tables = [Base.metadata.tables["case"]] + [t for t in Base.metadata.sorted_tables
                                               if "case_id" in t.c and t.name != "case"]
    with db.read() as s:
        rows = {t.name: [dict(r._mapping) for r in s.execute(
            sa.select(t).where((t.c.id if t.name == "case" else t.c.case_id) == template_id))] for t in tables}
    ids = set(UUID.findall(rows["case"][0]["state"])) | {template_id}
    for t in tables:
        for r in rows[t.name]:
            ids |= {v for v in r.values() if isinstance(v, str) and UUID.fullmatch(v)}
    serial = {t.name for t in tables if len(t.primary_key.columns) == 1
              and isinstance(next(iter(t.primary_key.columns)).type, sa.Integer)}

    def rewrite(value, mapping):
        if isinstance(value, str):
            return UUID.sub(lambda m: mapping.get(m.group(0), m.group(0)), value)
        if isinstance(value, (dict, list)):
            import json
            return json.loads(rewrite(json.dumps(value), mapping))
        return value

    batch = 1000
    for start in range(0, n, batch):
        out = {t.name: [] for t in tables}
        for i in range(start, min(n, start + batch)):
            mapping = {old: str(uuid.uuid4()) for old in ids}
            for t in tables:
                for r in rows[t.name]:
                    new = {k: rewrite(v, mapping) for k, v in r.items() if not (k == "id" and t.name in serial)}
                    if t.name == "case":
                        new["business_key"] = f"BENCH-{i:06d}"
                    out[t.name].append(new)
        with db.write() as s:
            for t in tables:
                if out[t.name]:
                    s.execute(t.insert(), out[t.name])


# -- measuring ---------------------------------------------------------------------------------------

def orm_baseline(db: Database, n: int) -> tuple[float, float]:
    """ORM single-row commits per second: (wall, CPU)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        with db.write() as s:
            s.add(Organisation(id=f"bench-{uuid.uuid4().hex[:12]}", name="x", created_at=utcnow()))
    return n / (time.perf_counter() - wall), n / max(time.process_time() - cpu, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=("deadline", "shipped"), default="deadline")
    ap.add_argument("--cases", type=int)
    ap.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    ap.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the drain")
    args = ap.parse_args()
    n = args.cases or (10_000 if args.kind == "deadline" else 1_000)
    tmp = Path(tempfile.mkdtemp())
    url = args.database or f"sqlite:///{tmp}/bench.sqlite"
    db = Database(url)
    db.migrate()
    engine = Engine(db)

    t = time.perf_counter()
    template = (deadline_template if args.kind == "deadline" else shipped_template)(engine, tmp)
    with db.read() as s:
        due_now = s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.case_id == template,
                                                                    Timer.due_at <= utcnow()))
    assert due_now, "the template case has no due timer"
    clone(db, template, n - 1)
    with db.read() as s:
        cases = s.scalar(sa.select(sa.func.count(Case.id)).where(Case.status == "running"))
        due = s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.due_at <= utcnow()))
    print(f"{args.kind}: {cases} running cases, {due} due timers, built in {time.perf_counter() - t:.1f} s "
          f"({db.engine.dialect.name})")

    orm_wall, orm_cpu = orm_baseline(db, 2000)

    statements = []

    def count(*_a, **_k):
        statements.append(1)
    sa.event.listen(db.engine, "before_cursor_execute", count)
    fresh = Engine(db)  # a scheduler process starting up: nothing cached yet
    profiler = None
    if args.profile:
        from pyinstrument import Profiler
        profiler = Profiler()
        profiler.start()
    wall, cpu = time.perf_counter(), time.process_time()
    advanced = fresh.fire_due_timers()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
    sa.event.remove(db.engine, "before_cursor_execute", count)

    with db.read() as s:
        fired = s.scalar(sa.select(sa.func.count(Event.id)).where(Event.action == "timer.fired"))
        left = s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.due_at <= utcnow()))
        failed = s.scalar(sa.select(sa.func.count(Event.id)).where(Event.action == "timer.failed"))
    assert not failed and not left, (failed, left)
    print(f"drained: {len(advanced)} cases advanced, {fired} timer.fired events, {left} still due, "
          f"{failed} failures; {len(statements) / max(len(advanced), 1):.1f} SQL statements per case")
    print(f"drain                : {fired / wall:8.0f} timers/s wall  {fired / max(cpu, 1e-9):8.0f} timers/s CPU "
          f"({wall:.1f} s wall, {cpu:.1f} s CPU)")
    print(f"baseline ORM commit  : {orm_wall:8.0f} commits/s wall {orm_cpu:8.0f} commits/s CPU")
    print(f"ratio                : a fired timer costs {orm_wall / (fired / wall):.1f} ORM commits (wall), "
          f"{orm_cpu / (fired / max(cpu, 1e-9)):.1f} (CPU); target >= 500 timers/s: "
          f"{'met' if fired / wall >= 500 else 'NOT met'}")
    db.dispose()
    if args.database is None:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
