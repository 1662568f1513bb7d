"""The case's index rows, written as diffs when an operation saves: the ``timer`` and
``message_subscription`` rows its pending events call for (what the scheduler and message routing read),
and the notifications a fired reminder or deadline puts in the outbox. No objects: nothing in the
operation reads these rows back, so they go out as one INSERT or DELETE per table."""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Session
from SpiffWorkflow.util.task import TaskState

from engine.storage.models import Case, HumanTask, MessageSubscription, Notification, Timer
from engine.workflow.workflow_state import pending_events

if TYPE_CHECKING:
    from .operation import Loaded

# the statements, built once (Core on the session's connection: no ORM statement handling per save)
_timer, _message = Timer.__table__, MessageSubscription.__table__
_DELETE_TIMERS = _timer.delete().where(_timer.c.case_id == sa.bindparam("case_id"),
                                       _timer.c.task_id.in_(sa.bindparam("task_ids", expanding=True)))
_DELETE_MESSAGES = _message.delete().where(_message.c.case_id == sa.bindparam("case_id"),
                                           _message.c.task_id.in_(sa.bindparam("task_ids", expanding=True)))
_INSERT_TIMERS, _INSERT_MESSAGES = _timer.insert(), _message.insert()
_INSERT_NOTIFICATIONS = Notification.__table__.insert()


#: a notification's subject is built from names that each fit their own columns, not necessarily together
_SUBJECT_MAX = Notification.__table__.c.subject.type.length


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _by_due(timer_row: tuple):
    """Timer index rows in due order (then task id): the ids they get follow the order they fire in."""
    return timer_row[4], timer_row[0]


def index_rows(row: Case, wf, pending=None) -> tuple[set, set]:
    """The timer and message_subscription rows the workflow's pending events (``pending``, if the caller has
    them: each timer's due date is an expression evaluated again on every call) call for, as hashable tuples."""
    timers, messages = pending if pending is not None else pending_events(wf)
    return ({(str(t.task.id), t.task.task_spec.bpmn_id, t.task.task_spec.bpmn_name, t.kind, t.due_at,
              str(t.attached_to.id) if t.attached_to is not None else None, t.interrupting) for t in timers},
            {(str(m.task.id), m.task.task_spec.bpmn_id, m.name, row.organisation_id) for m in messages})


def write_index_rows(s: Session, loaded: Loaded, pending=None) -> bool:
    """Bring the case's timer and message_subscription rows to the workflow's pending events, writing only
    what changed (most steps change neither). True if a timer row was added or removed."""
    row = loaded.row
    timers, messages = index_rows(row, loaded.wf, pending)
    gone_timers = [t[0] for t in loaded.timer_rows - timers]
    gone_messages = [m[0] for m in loaded.message_rows - messages]
    # index rows are never loaded as objects in an operation: no identity map to synchronise
    conn = s.connection()
    if gone_timers:
        conn.execute(_DELETE_TIMERS, {"case_id": row.id, "task_ids": gone_timers})
    if gone_messages:
        conn.execute(_DELETE_MESSAGES, {"case_id": row.id, "task_ids": gone_messages})
    # new index rows in one INSERT per table (no objects: nothing in the operation reads them back)
    new_timers = [{"case_id": row.id, "task_id": task_id, "element_id": element_id, "name": name, "kind": kind,
                   "due_at": due_at, "attached_to": attached_to, "interrupting": interrupting}
                  for task_id, element_id, name, kind, due_at, attached_to, interrupting
                  in sorted(timers - loaded.timer_rows, key=_by_due)]
    new_messages = [{"case_id": row.id, "organisation_id": organisation_id, "task_id": task_id,
                     "element_id": element_id, "name": name}
                    for task_id, element_id, name, organisation_id in sorted(messages - loaded.message_rows)]
    if new_timers:
        conn.execute(_INSERT_TIMERS, new_timers)
    if new_messages:
        conn.execute(_INSERT_MESSAGES, new_messages)
    loaded.timer_rows, loaded.message_rows = timers, messages
    return bool(gone_timers or new_timers)


def notify_fired(s: Session, loaded: Loaded, now) -> None:
    """A timer on a person's task fired (reminder or deadline): put a notification in the outbox for
    whoever holds the task (claimer, else diagram assignee, else everyone with the role)."""
    row = loaded.row
    notes = []
    for task_id, _element, name, _kind, _due, attached_to, interrupting in loaded.timer_rows:
        if attached_to is None:
            continue
        task = loaded.wf.get_task_from_id(uuid.UUID(task_id))
        if task is None or task.state != TaskState.COMPLETED:
            continue
        human = s.get(HumanTask, attached_to)
        if human is None:
            continue
        recipient = human.claimed_by or human.assignee or f"role:{human.role}"
        kind = "deadline" if interrupting else "reminder"
        notes.append(dict(
            case_id=row.id, task_id=human.id, organisation_id=row.organisation_id, recipient=recipient,
            kind=kind, created_at=now, sent_at=None,
            subject=_fit(f"{name or 'Timer'}: {human.name or human.element_id} ({row.business_key})", _SUBJECT_MAX),
            body=(f"The task '{human.name or human.element_id}' of case {row.business_key} "
                  f"{'reached its deadline' if interrupting else 'is waiting for you'} "
                  f"(due {human.due_at.isoformat() if human.due_at else 'now'}).")))
    if notes:  # one INSERT, no objects: nothing in the operation reads the outbox back
        s.connection().execute(_INSERT_NOTIFICATIONS, notes)
