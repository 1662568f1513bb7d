"""The inbox at scale: the first page of a coordinator's inbox with N open tasks (issue 13: 100k open cases,
p95 ≤ 20 ms).

Rows are written straight into a real SQLite file (cases and their ready inbox rows, a mix of roles, due dates
and organisations); then the first page of ``Workspace.inbox`` is read repeatedly for a coordinator, sorted by
due date (the default) and by priority, and for an applicant of one organisation. Reported next to a same-run
baseline: a primary-key lookup of one row on the same file (the floor of any read). Also prints the query plan.

    python bench/inbox_scale.py [open_tasks]
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ACCREDIT_PASSWORD_HASH", "fast")

import sqlalchemy as sa  # noqa: E402

from engine.actors import Actor  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from engine.storage.models import NO_DUE_DATE, Case, HumanTask  # noqa: E402


def seed(db: Database, n: int) -> None:
    from engine.storage.models import ProcessDefinition

    now = datetime.now(timezone.utc)
    with db.write() as s:
        d = ProcessDefinition(key="p", name="p", version=1, content_hash="x", files={}, spec="{}",
                              start_message=None, deployed_by="bench", deployed_at=now)
        s.add(d)
        s.flush()
        def_id = d.id
    roles = ["coordinator", "applicant", "committee", "inspector"]
    batch_cases, batch_tasks = [], []
    for i in range(n):
        cid = str(uuid.uuid4())
        org = f"lab-{i % 500}"
        batch_cases.append(dict(id=cid, definition_id=def_id, process_key="accreditation", organisation_id=org,
                                business_key=f"ACC-{i}", parent_case_id=None, status="running", outcome=None,
                                state="{}", started_by="x", created_at=now, updated_at=now, ended_at=None, version=1))
        due = None if i % 3 == 0 else now + timedelta(hours=(i * 7919) % 5000 - 1000)
        batch_tasks.append(dict(id=str(uuid.uuid4()), case_id=cid, organisation_id=org, process_key="accreditation",
                                element_id="review", name="Review", role=roles[i % 4], assignee=None,
                                claimed_by=None, form=None, ui_form=None, signature_meaning=None, due_at=due,
                                due_sort=due or NO_DUE_DATE,
                                priority=i % 5, status="ready", created_at=now - timedelta(seconds=i),
                                completed_at=None, completed_by=None))
        if len(batch_cases) == 5000 or i == n - 1:
            with db.write() as s:
                s.execute(sa.insert(Case), batch_cases)
                s.execute(sa.insert(HumanTask), batch_tasks)
            batch_cases, batch_tasks = [], []


def main(n: int = 100_000, repeats: int = 60) -> None:
    from engine.users.identity import Identity
    from engine.cases.services import Engine
    from engine.cases.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="accredit-inbox-"))
    db = Database(f"sqlite:///{tmp / 'inbox.sqlite'}")
    db.migrate()
    seed(db, n)
    with db.engine.connect() as c:
        c.exec_driver_sql("ANALYZE")
    ws = Workspace(db, Engine(db), Identity(db), tmp / "files")
    carol = Actor("carol", frozenset({"coordinator"}), None, "Carol")
    alice = Actor("alice", frozenset({"applicant"}), "lab-7", "Alice")

    def p95(fn):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        return statistics.median(times), times[int(len(times) * .95) - 1]

    any_id = None
    with db.read() as s:
        any_id = s.scalar(sa.select(HumanTask.id).limit(1))

    def pk():
        with db.read() as s:
            s.get(HumanTask, any_id)
            s.expunge_all()

    print(f"open tasks: {n} (SQLite file)")
    base = p95(pk)
    print(f"baseline primary-key read        : median {base[0]:6.2f} ms, p95 {base[1]:6.2f} ms")
    for label, fn in (("coordinator, first page, by due", lambda: ws.inbox(carol)),
                      ("coordinator, first page, priority", lambda: ws.inbox(carol, sort="priority")),
                      ("coordinator, page 50, by due", lambda: ws.inbox(carol, page=50)),
                      ("applicant of one lab, first page", lambda: ws.inbox(alice))):
        med, p = p95(fn)
        print(f"{label:33}: median {med:6.2f} ms, p95 {p:6.2f} ms  ({p / base[1]:.0f}x baseline p95)")
    with db.read() as s:
        from engine.users.access import actionable_tasks
        from engine.cases.inbox import SORTS

        stmt = (sa.select(HumanTask).where(HumanTask.status == "ready", actionable_tasks(carol))
                .order_by(*SORTS["due"], HumanTask.id).limit(20))
        sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
        plan = s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
        print("plan (coordinator, by due):", "; ".join(r[-1] for r in plan))
    page = ws.inbox(carol)
    print(f"first page: {len(page.items)} items, total {page.total}"
          f"{' (capped)' if getattr(page, 'total_capped', False) else ''}")
    db.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
