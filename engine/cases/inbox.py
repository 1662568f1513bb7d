"""The inbox: the ready tasks a person may act on, one page at a time, in the order of an index.

Each sort follows one inbox index (:class:`engine.storage.models.HumanTask`), so a page is read in index order and
the read stops after ``per_page`` rows; the total is counted only up to :data:`COUNT_CAP`.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from engine.users.access import actionable_tasks
from engine.actors import Actor
from engine.storage.db import Database
from engine.errors import InvalidFormData
from engine.storage.models import Case, HumanTask, utcnow
from .views import TaskView

#: each sort follows one inbox index (engine.storage.models.HumanTask), so a page is read in index order
SORTS = {
    "due": (HumanTask.due_sort, HumanTask.created_at),
    "-due": (HumanTask.due_at.is_(None), HumanTask.due_sort.desc(), HumanTask.created_at),
    "priority": (HumanTask.priority.desc(), HumanTask.due_sort),
    "created": (HumanTask.created_at,),
    "-created": (HumanTask.created_at.desc(),),
}
#: the inbox counts matching tasks up to this many; beyond, ``total`` says "at least" (``total_capped``): a
#: count of the whole result on every page is what made the first page slow with 100k open cases
COUNT_CAP = 1000
SCOPES = ("all", "mine", "claimed", "unassigned")


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int
    total_capped: bool = False


def inbox_page(db: Database, actor: Actor, *, scope: str = "all", role: str | None = None,
               process: str | None = None, case_id: str | None = None, overdue: bool | None = None,
               sort: str = "due", page: int = 1, per_page: int = 20) -> Page:
    """One page of the ready tasks ``actor`` may act on, filtered and sorted (see :class:`Page`)."""
    if scope not in SCOPES:
        raise InvalidFormData("unknown scope", [{"field": "/scope", "message": f"one of {', '.join(SCOPES)}"}])
    if sort not in SORTS:
        raise InvalidFormData("unknown sort", [{"field": "/sort", "message": f"one of {', '.join(SORTS)}"}])
    stmt = sa.select(HumanTask).where(HumanTask.status == "ready", actionable_tasks(actor))
    me = actor.username
    if scope == "mine":
        stmt = stmt.where(sa.or_(HumanTask.assignee == me, HumanTask.claimed_by == me))
    elif scope == "claimed":
        stmt = stmt.where(HumanTask.claimed_by == me)
    elif scope == "unassigned":
        stmt = stmt.where(HumanTask.claimed_by.is_(None), HumanTask.assignee.is_(None))
    if role:
        stmt = stmt.where(HumanTask.role == role)
    if process:  # the case's process (a task inside a called process also matches that process)
        stmt = stmt.where(sa.or_(HumanTask.process_key == process,
                                 HumanTask.case_id.in_(sa.select(Case.id).where(Case.process_key == process))))
    if case_id:
        stmt = stmt.where(HumanTask.case_id == case_id)
    if overdue is True:
        stmt = stmt.where(HumanTask.due_at < utcnow())
    elif overdue is False:
        stmt = stmt.where(sa.or_(HumanTask.due_at.is_(None), HumanTask.due_at >= utcnow()))
    with db.read() as s:
        rows = s.scalars(stmt.order_by(*SORTS[sort], HumanTask.id)
                         .offset((page - 1) * per_page).limit(per_page)).all()
        total = s.scalar(sa.select(sa.func.count()).select_from(
            stmt.with_only_columns(HumanTask.id).limit(COUNT_CAP + 1).subquery()))
        capped = total > COUNT_CAP
        total = min(total, COUNT_CAP)
        keys = dict(s.execute(sa.select(Case.id, Case.business_key)
                              .where(Case.id.in_({r.case_id for r in rows}))).all())
        items = [TaskView.of(r) for r in rows]
        for item in items:
            item.business_key = keys.get(item.case_id)
        return Page(items, total, page, per_page, capped)
