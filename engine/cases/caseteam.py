"""Who is on a case: the explicit case-team record inspector access comes from (table ``case_member``).

Why a record and not "whoever a task was ever assigned to": that rule is implicit and never revoked — an
inspector named once, then replaced after the laboratory's objection or after declaring a conflict of
interest, went on reading the case for ever. Now the diagram declares the team and the engine keeps it,
inside the same transaction as the step that changed it (called from ``Operation._save``):

* ``caseTeam`` on a task or event (e.g. ``team_leader,inspectors`` on *Assign inspection team*): comma-separated
  names of variables holding a username or a list of usernames. When the task completes, the people named
  are the case's team: newcomers are added, active members no longer named are removed (the assignment done
  again after an objection or a conflict replaces the team).
* ``revokesMembershipIf`` on a user task (e.g. ``conflict_of_interest`` on *Declare conflict of interest*): an
  expression over the completed task's data; when true, the person the task was for (claimer, else diagram
  assignee, else whoever completed it) leaves the team at once.

A called process runs inside its parent's case, so it shares the parent's team. Every change is a history
event (``team.member_added`` / ``team.member_removed`` / ``team.member_changed``) with who and why; its data
is staff-only (the redactor shows unknown kinds of event to others without data), so a laboratory never
learns that an inspector declared a conflict. Rows are never deleted: a removal sets ``until``.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.util.task import TaskState

from engine.records import history
from engine.errors import ProcessError
from engine.storage.models import CaseMember, HumanTask, User, utcnow
from engine.vocabulary import CASE_TEAM, REVOKES_MEMBERSHIP_IF
from engine.workflow.workflow_state import all_tasks, is_visible, properties

if TYPE_CHECKING:
    from .operation import Loaded, Operation


def update(op: Operation, loaded: Loaded, before: dict) -> None:
    """Apply the team declarations of every element completed since ``before`` (a state snapshot). Costs no
    query unless such an element completed: most steps declare nothing."""
    done = [t for t in all_tasks(loaded.wf)
            if is_visible(t) and t.state == TaskState.COMPLETED and before.get(t.id) != TaskState.COMPLETED
            and _declares(t)]
    done.sort(key=lambda t: t.last_state_change or 0)
    for task in done:
        props = properties(task.task_spec)
        if props.get(CASE_TEAM):
            _set_team(op, loaded, task, _named(loaded, task, props[CASE_TEAM]))
        if props.get(REVOKES_MEMBERSHIP_IF) and task.task_spec.manual and _condition(op, loaded, task,
                                                                                 props[REVOKES_MEMBERSHIP_IF]):
            _revoke(op, loaded, task, props[REVOKES_MEMBERSHIP_IF])


def active_members(s, case_id: str) -> dict[str, CaseMember]:
    return {m.username: m for m in s.scalars(sa.select(CaseMember).where(
        CaseMember.case_id == case_id, CaseMember.until.is_(None)).order_by(CaseMember.id))}


def team(s, case_id: str) -> list[dict]:
    """The case's membership record, oldest first (active and ended), for staff views and tests."""
    rows = s.scalars(sa.select(CaseMember).where(CaseMember.case_id == case_id).order_by(CaseMember.id))
    return [{"username": m.username, "role": m.role, "since": m.since, "until": m.until, "reason": m.reason,
             "ended_reason": m.ended_reason, "added_by": m.added_by, "removed_by": m.removed_by} for m in rows]


# -- internals -----------------------------------------------------------------------------------------

def _declares(task) -> bool:
    props = properties(task.task_spec)
    if not (props.get(CASE_TEAM) or props.get(REVOKES_MEMBERSHIP_IF)):
        return False
    # a multi-instance activity completes once per instance and once as a whole: only the instances are
    # a person's submission (the whole holds none of their fields)
    return not isinstance(task.task_spec, MultiInstanceTask)


def _where(task) -> dict:
    return {"element_id": task.task_spec.bpmn_id, "element_name": task.task_spec.bpmn_name}


_USERNAME_MAX = User.__table__.c.username.type.length


def _named(loaded: Loaded, task, declaration: str) -> dict[str, str]:
    """{username: the variable that named them} from the task's data, in declaration order."""
    named: dict[str, str] = {}
    for variable in (v.strip() for v in declaration.split(",")):
        if not variable:
            continue
        if variable not in task.data:
            raise ProcessError(f"{CASE_TEAM} names the variable '{variable}', which the task's data does not "
                               f"hold", case_id=loaded.row.id, **_where(task))
        value = task.data[variable]
        values = value if isinstance(value, (list, tuple)) else [value]
        for username in values:
            if username in (None, ""):
                continue
            if not isinstance(username, str):
                raise ProcessError(f"{CASE_TEAM}: '{variable}' must hold usernames (text), not "
                                   f"{type(username).__name__}", case_id=loaded.row.id, **_where(task))
            if len(username) > _USERNAME_MAX:  # not a username (and more than the team's column holds)
                raise ProcessError(f"{CASE_TEAM}: '{variable}' holds {len(username):,} characters, not a username",
                                   case_id=loaded.row.id, **_where(task))
            named.setdefault(username, variable)
    return named


def _condition(op: Operation, loaded: Loaded, task, expression: str) -> bool:
    from .operation import process_error

    try:
        return bool(op.engine.script_engine.evaluate(task, expression))
    except Exception as exc:
        raise process_error(exc, loaded.row.id, f"{REVOKES_MEMBERSHIP_IF} expression '{expression}' failed") from exc


def _set_team(op: Operation, loaded: Loaded, task, named: dict[str, str]) -> None:
    active = active_members(op.s, loaded.row.id)
    where = _where(task)
    for username, member in active.items():
        if username not in named:
            _end(op, loaded, member, f"no longer named when '{where['element_name'] or where['element_id']}' "
                                     f"was completed", where)
    for username, variable in named.items():
        member = active.get(username)
        if member is None:
            _add(op, loaded, username, variable, where)
        elif member.role != variable:
            old, member.role = member.role, variable
            history.record(op.s, loaded, op.actor, "team.member_changed", data={
                "username": username, "old_role": old, "role": variable, **where})


def _revoke(op: Operation, loaded: Loaded, task, expression: str) -> None:
    row = op.s.get(HumanTask, str(task.id))
    username = (row.claimed_by or row.assignee) if row is not None else None
    username = username or op.actor.username
    member = active_members(op.s, loaded.row.id).get(username)
    if member is not None:
        where = _where(task)
        _end(op, loaded, member, f"{expression} at '{where['element_name'] or where['element_id']}'", where)


def _add(op: Operation, loaded: Loaded, username: str, variable: str, where: dict) -> None:
    reason = f"named in '{variable}' at '{where['element_name'] or where['element_id']}'"
    op.s.add(CaseMember(case_id=loaded.row.id, username=username, role=variable, since=utcnow(), reason=reason,
                        added_by=op.actor.username))
    op.s.flush()  # the next query in this operation must see it
    history.record(op.s, loaded, op.actor, "team.member_added",
                   data={"username": username, "role": variable, "reason": reason, **where})


def _end(op: Operation, loaded: Loaded, member: CaseMember, reason: str, where: dict) -> None:
    member.until, member.ended_reason, member.removed_by = utcnow(), reason, op.actor.username
    op.s.flush()
    history.record(op.s, loaded, op.actor, "team.member_removed",
                   data={"username": member.username, "role": member.role, "reason": reason, **where})
    _release_claims(op, loaded, member.username)


def _release_claims(op: Operation, loaded: Loaded, username: str) -> None:
    """A member who leaves gives back the tasks of the case they had claimed, so the rest of the team can take
    them (a claim would otherwise block everyone until a coordinator released it)."""
    claimed = op.s.scalars(sa.select(HumanTask).where(HumanTask.case_id == loaded.row.id,
                                                      HumanTask.status == "ready", HumanTask.claimed_by == username))
    for row in claimed:
        task = loaded.wf.get_task_from_id(uuid.UUID(row.id))
        if task is None or task.state != TaskState.READY:
            continue  # completed in this very step: its claim stays on the record
        row.claimed_by = None
        history.record(op.s, loaded, op.actor, "task.unclaimed",
                       data={"task_id": row.id, "element_id": row.element_id, "was": username})

