"""What the diagram-code sandbox costs, against plain ``eval``/``exec`` measured in the same run.

1. Per evaluation (CPU µs, this process + the sandbox workers): a gateway condition, a DMN-style input,
   a bare variable (timers, assignee, multi-instance), an expression with arithmetic (goes to a worker),
   and a post-script (always a worker) on task data of realistic size.
2. Per task completion: the shipped accreditation process driven from application to award (24 human
   steps, each running its conditions, DMN tables, scripts and timers), with SpiffWorkflow's stock
   unsandboxed script engine versus the sandbox.

    python bench/sandbox_cost.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ACCREDIT_PASSWORD_HASH", "fast")

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # noqa: E402

from engine.definitions.bundles import read_directories  # noqa: E402
from engine.sandbox import IsolatedEnvironment, RestrictedEnvironment  # noqa: E402
from engine.sandbox.pool import WorkerPool  # noqa: E402

DATA = {
    "case_id": "6f1c2a9e-0000-4000-8000-000000000000", "organisation_id": "lab-a", "decision": "grant",
    "scope": ["collection", "processing", "cell_therapy"], "months_in_operation": 18, "membership_active": True,
    "citations": [{"standard": f"B{i}.1", "finding": "x" * 200, "severity": "minor"} for i in range(20)],
    "documents": [{"name": f"SOP-{i}.pdf", "attachment": "0" * 64, "standard": f"B{i}"} for i in range(30)],
    "inspection_team": ["ivan", "iris", "igor"], "team_leader": "ivan", "inspectors": ["iris", "igor"],
}
CASES = [
    ("condition", "eval", 'decision == "grant_pending_corrections"'),
    ("DMN input", "eval", 'len([c for c in (citations or []) if c.get("severity") == "major"])'),
    ("bare name", "eval", "inspection_team"),
    ("arithmetic", "eval", "months_in_operation * 2 + 1 > 12"),
    ("post-script", "exec", "inspection_team = [team_leader] + [i for i in inspectors if i != team_leader]"),
]


def cpu_per_call(env, mode, source, pool=None, n=300):
    def once():
        data = dict(DATA)
        return env.evaluate(source, data) if mode == "eval" else env.execute(source, data)
    once()
    workers = pool.cpu_seconds() if pool else 0.0
    start = time.process_time()
    for _ in range(n):
        once()
    own = time.process_time() - start
    remote = (pool.cpu_seconds() - workers) if pool else 0.0
    return (own + remote) / n


def per_evaluation():
    pool = WorkerPool(size=1)
    plain = TaskDataEnvironment()
    restricted = RestrictedEnvironment()
    sandbox = IsolatedEnvironment(pool=pool)
    print("1. per evaluation, CPU µs (this process + sandbox workers)")
    print(f"   {'':12} {'plain eval':>11} {'restricted':>11} {'sandbox':>11}  where")
    for label, mode, source in CASES:
        base = cpu_per_call(plain, mode, source)
        rp = cpu_per_call(restricted, mode, source)
        sb = cpu_per_call(sandbox, mode, source, pool)
        from engine.sandbox.fastpath import classify
        where = "in process" if mode == "eval" and classify(source)[0] else "worker"
        print(f"   {label:12} {base * 1e6:10.1f}  {rp * 1e6:10.1f}  {sb * 1e6:10.1f}   {where} ({sb / base:.1f}x plain)")
    pool.close()


def per_completion():
    import time_machine

    from engine.actors import Actor  # noqa: F401
    from engine.storage.db import Database
    from engine.users.identity import Identity
    from engine.sandbox.pool import default_pool
    from engine.cases.services import Engine
    from engine.cases.workspace import Workspace
    from tests.scenarios.harness import PEOPLE, T0, Driver
    from tests.scenarios.test_accreditation import awarded

    def run(stock: bool):
        db = Database(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite")
        db.migrate()
        engine = Engine(db)
        if stock:
            from datetime import date, datetime, timedelta

            engine.script_engine = PythonScriptEngine(TaskDataEnvironment(
                {"date": date, "datetime": datetime, "timedelta": timedelta}))
        engine.deploy(read_directories(ROOT / "processes", ROOT / "forms"))
        identity = Identity(db)
        for org in ("lab-a", "lab-b"):
            identity.create_organisation(org, org)
        for a in PEOPLE.values():
            identity.create_user(a.username, "bench-password", a.roles, organisation_id=a.organisation_id)
        with time_machine.travel(T0, tick=False) as clock:
            d = Driver(engine, Workspace(db, engine, identity, Path(tempfile.mkdtemp())), clock)
            workers, requests = default_pool().cpu_seconds(), default_pool().requests
            cpu, wall = time.process_time(), time.perf_counter()
            awarded(d)
            cpu = time.process_time() - cpu + default_pool().cpu_seconds() - workers
            wall = time.perf_counter() - wall
        db.dispose()
        trips[stock] = default_pool().requests - requests
        return cpu, wall

    trips = {}

    run(False)  # warm: workers started, specs cached
    rounds = {True: [], False: []}
    for _ in range(3):
        for stock in (True, False):
            rounds[stock].append(run(stock))
    steps = 24
    print("2. per task completion: shipped accreditation, application to award (24 completions), best of 3")
    base_cpu = min(c for c, _ in rounds[True]) / steps
    base_wall = min(w for _, w in rounds[True]) / steps
    sb_cpu = min(c for c, _ in rounds[False]) / steps
    sb_wall = min(w for _, w in rounds[False]) / steps
    print(f"   stock script engine: {base_cpu * 1000:6.2f} ms CPU, {base_wall * 1000:6.2f} ms wall per completion")
    print(f"   sandbox            : {sb_cpu * 1000:6.2f} ms CPU, {sb_wall * 1000:6.2f} ms wall per completion")
    print(f"   sandbox overhead   : {(sb_cpu - base_cpu) * 1000:+6.2f} ms CPU ({sb_cpu / base_cpu:.2f}x), "
          f"{(sb_wall - base_wall) * 1000:+6.2f} ms wall per completion")
    print(f"   worker round trips : {trips[False]} over {steps} completions ({trips[False] / steps:.2f} per completion);"
          " every other evaluation ran in process")


if __name__ == "__main__":
    per_evaluation()
    per_completion()
