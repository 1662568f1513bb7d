"""Who may see which case and act on which task — one place, used by every read and write.

* Staff roles (coordinator, committee, auditor, quality manager, admin) see every case. Auditors only
  read: they hold no lane role, and comments and uploads refuse them (:func:`read_only`).
* An applicant sees only its own organisation's cases.
* An inspector sees only the cases whose team they are on now: an active row of the case-team record
  (``case_member``, kept by :mod:`engine.cases.caseteam` from what the diagram declares). Being assigned a task is
  not enough, and a member removed (team changed, conflict of interest declared) loses the case at once.
* A task is actionable by a user who holds its lane's role, for an applicant only in its organisation, for
  a task with a diagram ``assignee`` only that user, for an inspector task only while on the case's team.

Invisible cases answer "not found", never "forbidden": a laboratory must not learn another one's case ids.
"""
from __future__ import annotations

import sqlalchemy as sa

from engine.actors import Actor
from engine.storage.models import Case, CaseMember, HumanTask
from engine.vocabulary import APPLICANT, INSPECTOR, READ_ONLY_ROLES, STAFF_ROLES


def sees_all_cases(actor: Actor) -> bool:
    return bool(actor.roles & STAFF_ROLES)


def read_only(actor: Actor) -> bool:
    """An auditor (and nothing else): may read every case and its history, and write nothing."""
    return bool(actor.roles) and actor.roles <= READ_ONLY_ROLES


def inspector_case_ids(actor: Actor):
    """Subquery: ids of the cases whose team the inspector is on now."""
    return sa.select(CaseMember.case_id).where(CaseMember.username == actor.username, CaseMember.until.is_(None))


def visible_cases(actor: Actor):
    """A WHERE clause on Case for the cases ``actor`` may see."""
    if sees_all_cases(actor):
        return sa.true()
    clauses = []
    if APPLICANT in actor.roles and actor.organisation_id:
        clauses.append(Case.organisation_id == actor.organisation_id)
    if INSPECTOR in actor.roles:
        clauses.append(Case.id.in_(inspector_case_ids(actor)))
    return sa.or_(*clauses) if clauses else sa.false()


def case_visible(s, actor: Actor, case: Case) -> bool:
    if sees_all_cases(actor):
        return True
    return bool(s.scalar(sa.select(sa.func.count(Case.id)).where(Case.id == case.id, visible_cases(actor))))


def actionable_tasks(actor: Actor):
    """A WHERE clause on HumanTask for the tasks ``actor`` may act on (claim, complete).

    Written as one conjunction per role the actor holds (an applicant: its organisation's applicant tasks;
    an inspector: inspector tasks of the cases whose team they are on; any other role: its tasks), so that for
    the usual one-role user the clause is plain equalities an inbox index serves in sort order."""
    per_role = []
    for role in sorted(actor.roles):
        if role == APPLICANT:
            per_role.append(sa.and_(HumanTask.role == role,
                                    HumanTask.organisation_id == (actor.organisation_id or "")))
        elif role == INSPECTOR:
            per_role.append(sa.and_(HumanTask.role == role, HumanTask.case_id.in_(inspector_case_ids(actor))))
        else:
            per_role.append(HumanTask.role == role)
    if not per_role:
        return sa.false()
    return sa.and_(sa.or_(*per_role) if len(per_role) > 1 else per_role[0],
                   sa.or_(HumanTask.assignee.is_(None), HumanTask.assignee == actor.username))


def task_actionable(s, actor: Actor, task: HumanTask) -> bool:
    return bool(s.scalar(sa.select(sa.func.count(HumanTask.id)).where(HumanTask.id == task.id,
                                                                      actionable_tasks(actor))))


def may_act(actor: Actor, task: HumanTask, on_case) -> bool:
    """:func:`actionable_tasks` for one task already in memory (no query unless it is an inspector task: then
    ``on_case()`` says whether the actor is on the task's team — a diagram assignee who has left the team, e.g.
    after declaring a conflict of interest, may no longer act)."""
    if task.role not in actor.roles or task.assignee not in (None, actor.username):
        return False
    if APPLICANT in actor.roles and task.role == APPLICANT and task.organisation_id != (actor.organisation_id or ""):
        return False
    if INSPECTOR in actor.roles and task.role == INSPECTOR:
        return on_case()
    return True


def sees_case(s, actor: Actor, case: Case) -> bool:
    """:func:`case_visible` without a query where the row in memory answers it (staff; an applicant's own
    organisation)."""
    if sees_all_cases(actor):
        return True
    if APPLICANT in actor.roles and actor.organisation_id and case.organisation_id == actor.organisation_id:
        return True
    if INSPECTOR in actor.roles:
        return inspector_on_case(s, actor, case.id)
    return False


def inspector_on_case(s, actor: Actor, case_id: str) -> bool:
    """Whether ``actor`` is an active member of the case's team (:mod:`engine.cases.caseteam`)."""
    return bool(s.scalar(sa.select(CaseMember.id).where(
        CaseMember.case_id == case_id, CaseMember.username == actor.username, CaseMember.until.is_(None)).limit(1)))
