"""The inbox at scale (issue 13, item 4): the first page is read in index order — no sort of every matching
row, no count of the whole result on every page. Checked on the query plans SQLite chooses and on the total."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from engine.users.access import actionable_tasks
from engine.actors import Actor
from engine.users.identity import Identity
from engine.storage.models import Case, HumanTask, ProcessDefinition
from engine.cases.inbox import COUNT_CAP, SORTS
from engine.cases.workspace import Workspace

CAROL = Actor("carol", frozenset({"coordinator"}), None, "Carol")
ALICE = Actor("alice", frozenset({"applicant"}), "lab-1", "Alice")


def _seed(db, n: int) -> None:
    now = datetime.now(timezone.utc)
    with db.write() as s:
        d = ProcessDefinition(key="p", name="p", version=1, content_hash="x", files={}, spec="{}",
                              start_message=None, deployed_by="t", deployed_at=now)
        s.add(d)
        s.flush()
        for i in range(n):
            cid = str(uuid.uuid4())
            s.add(Case(id=cid, definition_id=d.id, process_key="p", organisation_id=f"lab-{i % 7}",
                       business_key=f"K-{i}", status="running", state="{}", started_by="t", created_at=now,
                       updated_at=now, version=1))
            s.add(HumanTask(id=str(uuid.uuid4()), case_id=cid, organisation_id=f"lab-{i % 7}", process_key="p",
                            element_id="t", role=("coordinator", "applicant")[i % 2], status="ready",
                            due_at=None if i % 3 == 0 else now + timedelta(hours=i), priority=i % 4,
                            created_at=now - timedelta(seconds=i)))
    with db.engine.connect() as c:
        c.exec_driver_sql("ANALYZE")


def _plan(db, actor, sort) -> str:
    stmt = (sa.select(HumanTask).where(HumanTask.status == "ready", actionable_tasks(actor))
            .order_by(*SORTS[sort], HumanTask.id).limit(20))
    sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as c:
        return " / ".join(r[-1] for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


@pytest.mark.parametrize("actor, sort, index", [
    (CAROL, "due", "ix_human_task_inbox_due"),
    (CAROL, "priority", "ix_human_task_inbox_priority"),
    (CAROL, "created", "ix_human_task_inbox_created"),
    (ALICE, "due", "ix_human_task_inbox_org_due"),
])
def test_the_first_page_is_read_in_index_order(db, actor, sort, index):
    _seed(db, 300)
    plan = _plan(db, actor, sort)
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort of every matching row


def test_the_total_is_counted_up_to_a_cap(db, engine, tmp_path):
    _seed(db, 2 * COUNT_CAP + 50)
    ws = Workspace(db, engine, Identity(db), tmp_path / "files")
    page = ws.inbox(CAROL)
    assert (page.total, page.total_capped) == (COUNT_CAP, True)
    assert [t.due_at is not None for t in page.items] == [True] * 20  # dated tasks first, soonest first
    dues = [t.due_at for t in page.items]
    assert dues == sorted(dues)
    small = ws.inbox(ALICE)
    assert small.total_capped is False and small.total == len(
        [i for i in range(2 * COUNT_CAP + 50) if i % 2 == 1 and i % 7 == 1])
