"""The case row and its inbox rows, written by a save with Core statements instead of the ORM's unit of work.

The objects stay what the rest of the operation reads (the loaded ``Case``, the ``HumanTask`` rows of the
inbox that views, notifications and a second save of the same case use): each statement is followed by the
same values set on the object as *committed* (no pending change for a later flush), and a new inbox row is
attached to the session as if it had been loaded. What the ORM did — the optimistic ``version`` check of the
case row included — is done here explicitly: ``WHERE version = :old``, and a row count of zero is a
:class:`~engine.errors.Conflict`.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from engine.errors import Conflict
from engine.storage.models import NO_DUE_DATE, Case, HumanTask

_case, _task = Case.__table__, HumanTask.__table__
#: the case row after a step (every column a save may change, one statement built once)
_UPDATE_CASE = (_case.update()
                .where(_case.c.id == sa.bindparam("b_id"), _case.c.version == sa.bindparam("b_version"))
                .values(state=sa.bindparam("state"), status=sa.bindparam("status"),
                        outcome=sa.bindparam("outcome"), ended_at=sa.bindparam("ended_at"),
                        updated_at=sa.bindparam("updated_at"), version=sa.bindparam("version")))
_INSERT_TASKS = _task.insert()
_CLOSE_TASK = (_task.update().where(_task.c.id == sa.bindparam("b_id"))
               .values(status=sa.bindparam("status"), completed_at=sa.bindparam("completed_at"),
                       completed_by=sa.bindparam("completed_by")))
_DUE_TASK = (_task.update().where(_task.c.id == sa.bindparam("b_id"))
             .values(due_at=sa.bindparam("due_at"), due_sort=sa.bindparam("due_sort")))

_CASE_COLUMNS = ("state", "status", "outcome", "ended_at", "updated_at", "version")
_TASK_COLUMNS = tuple(c.key for c in _task.columns)
_CLOSE_COLUMNS = ("status", "completed_at", "completed_by")

CONFLICT = "the case was changed by someone else meanwhile; reload and try again"


def _committed(obj, values: dict, columns) -> None:
    for key in columns:
        set_committed_value(obj, key, values[key])


def update_case(s: Session, row: Case, *, state: str, status: str, outcome, ended_at, updated_at) -> None:
    """Write the case row's state, status and times, checking and bumping its ``version`` (what the ORM's
    ``version_id_col`` did): a case another transaction saved since it was loaded is a Conflict."""
    old = row.version
    values = {"state": state, "status": status, "outcome": outcome, "ended_at": ended_at,
              "updated_at": updated_at, "version": old + 1}
    if s.connection().execute(_UPDATE_CASE, {"b_id": row.id, "b_version": old, **values}).rowcount != 1:
        raise Conflict(CONFLICT, case_id=row.id)
    _committed(row, values, _CASE_COLUMNS)


def new_task(**values) -> HumanTask:
    """A new inbox row as an object of the session (as if loaded: nothing left to flush); written by
    :func:`insert_tasks` with the others of the save."""
    values.setdefault("due_at", None)
    values["due_sort"] = values["due_at"] if values["due_at"] is not None else NO_DUE_DATE
    for key in ("claimed_by", "completed_at", "completed_by"):
        values.setdefault(key, None)
    return HumanTask(**values)


def insert_tasks(s: Session, tasks: list[HumanTask]) -> None:
    """One INSERT of the new inbox rows, then each attached to the session as persistent (identity map:
    ``s.get`` finds it; no pending insert)."""
    if not tasks:
        return
    s.connection().execute(_INSERT_TASKS, [{k: getattr(h, k) for k in _TASK_COLUMNS} for h in tasks])
    for h in tasks:
        make_transient_to_detached(h)
        s.add(h)


def set_due(s: Session, changed: list[tuple[HumanTask, object]]) -> None:
    """New due dates of existing inbox rows (a fired escalation, a timer that moved)."""
    if not changed:
        return
    params = [{"b_id": h.id, "due_at": due, "due_sort": due if due is not None else NO_DUE_DATE}
              for h, due in changed]
    s.connection().execute(_DUE_TASK, params)
    for (h, _), p in zip(changed, params):
        _committed(h, p, ("due_at", "due_sort"))


def close_tasks(s: Session, closed: list[tuple[HumanTask, str, object, str | None]]) -> None:
    """Inbox rows no longer ready: (row, 'completed' | 'cancelled', when, by whom)."""
    if not closed:
        return
    params = [{"b_id": h.id, "status": status, "completed_at": at, "completed_by": by}
              for h, status, at, by in closed]
    s.connection().execute(_CLOSE_TASK, params)
    for (h, *_), p in zip(closed, params):
        _committed(h, p, _CLOSE_COLUMNS)
