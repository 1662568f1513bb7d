"""Where the process hurts: per process version and per human step, how many cases wait there now, how long
people spent there (median and 90th percentile) and how many missed their deadline.

Everything is computed from what the engine already records, never from a second bookkeeping:

* time spent at a step = from the step's ``task.ready`` event to the first event that finished the same task
  (``task.completed`` and the other completing actions of :data:`engine.reports.audit.COMPLETING`); a task cancelled
  before completion (an interrupting timer, a withdrawn case) is counted as ``cancelled``, not as time spent;
* waiting now = the step's open ``human_task`` rows (the inbox index, written on every save);
* missed deadline = ``human_task`` rows with a ``due_at`` that were completed after it, or are still open
  past it (``overdue_now`` counts the latter alone).

The date range selects the visits that *entered* the step in [since, until) (``task.ready`` time, or the
``human_task`` creation time). A case migrated to another version counts under the version it runs on now.
"""
from __future__ import annotations

import math
import statistics
from datetime import datetime

import sqlalchemy as sa

from engine.actors import Actor
from .audit import COMPLETING
from engine.errors import Forbidden, InvalidFormData, NotFound
from engine.storage.models import Case, Event, HumanTask, ProcessDefinition, utcnow
from engine.vocabulary import AUDITOR, COORDINATOR, QUALITY_MANAGER

#: who may read the step metrics
METRICS_ROLES = frozenset({QUALITY_MANAGER, AUDITOR, COORDINATOR})
_ENDING = (*COMPLETING, "element.cancelled", "element.error")


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _in_range(at: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or at >= since) and (until is None or at < until)


class StepMetrics:
    def __init__(self, engine):
        self.engine, self.db = engine, engine.db

    def steps(self, actor: Actor | None, key: str, version: int | None = None, *, since: datetime | None = None,
              until: datetime | None = None) -> dict:
        """The metrics of every human step of ``key`` at ``version`` (the latest if None). ``actor`` None is a
        trusted caller (the CLI)."""
        if actor is not None and not actor.roles & METRICS_ROLES:
            raise Forbidden("only a quality manager, an auditor or a coordinator may read the step metrics",
                            roles=sorted(METRICS_ROLES))
        if since is not None and until is not None and until <= since:
            raise InvalidFormData("the time range is empty", [{"field": "/until", "message": "must be after since"}])
        now = utcnow()
        with self.db.read() as s:
            stmt = sa.select(ProcessDefinition).where(ProcessDefinition.key == key)
            stmt = stmt.where(ProcessDefinition.version == version) if version is not None else \
                stmt.order_by(ProcessDefinition.version.desc()).limit(1)
            d = s.scalar(stmt)
            if d is None:
                what = f"'{key}' version {version}" if version is not None else f"'{key}'"
                raise NotFound(f"no process {what} is deployed", process_key=key, version=version)
            case_ids = sa.select(Case.id).where(Case.definition_id == d.id)
            cases = s.scalar(sa.select(sa.func.count(Case.id)).where(Case.definition_id == d.id))
            events = s.execute(
                sa.select(Event.task_id, Event.element_id, Event.element_name, Event.action, Event.occurred_at)
                .where(Event.case_id.in_(case_ids), Event.task_id.is_not(None),
                       Event.action.in_(("task.ready", *_ENDING)))
                .order_by(Event.case_id, Event.seq)).all()
            tasks = s.execute(
                sa.select(HumanTask.element_id, HumanTask.name, HumanTask.status, HumanTask.created_at,
                          HumanTask.completed_at, HumanTask.due_at)
                .where(HumanTask.case_id.in_(case_ids))).all()
            definition = {"key": d.key, "name": d.name, "version": d.version, "cases": cases}
        declared = self.engine.specs.user_tasks(d)
        return {"definition": definition, "since": since, "until": until, "computed_at": now,
                "steps": _aggregate(declared, events, tasks, since, until, now)}


def _aggregate(declared, events, tasks, since, until, now) -> list[dict]:
    steps: dict[str, dict] = {}

    def step(element_id: str, name: str | None) -> dict:
        return steps.setdefault(element_id, {
            "element_id": element_id, "name": name, "lane": None, "waiting_now": 0, "entered": 0,
            "completed": 0, "cancelled": 0, "durations": [], "with_deadline": 0, "missed_deadline": 0,
            "overdue_now": 0})

    for t in declared:
        step(t["element_id"], t["name"])["lane"] = t.get("lane")
    open_visits: dict[str, tuple[str, datetime]] = {}  # task id -> (element id, ready at)
    for e in events:
        if e.action == "task.ready":
            if _in_range(e.occurred_at, since, until):
                step(e.element_id, e.element_name)["entered"] += 1
                open_visits[e.task_id] = (e.element_id, e.occurred_at)
            continue
        visit = open_visits.pop(e.task_id, None)
        if visit is None:
            continue
        element_id, ready_at = visit
        if e.action in COMPLETING:
            steps[element_id]["completed"] += 1
            steps[element_id]["durations"].append((e.occurred_at - ready_at).total_seconds())
        else:
            steps[element_id]["cancelled"] += 1
    for t in tasks:
        if not _in_range(t.created_at, since, until):
            continue
        st = step(t.element_id, t.name)
        if t.status == "ready":
            st["waiting_now"] += 1
        if t.due_at is not None:
            st["with_deadline"] += 1
            if t.status == "ready" and now > t.due_at:
                st["missed_deadline"] += 1
                st["overdue_now"] += 1
            elif t.status == "completed" and t.completed_at is not None and t.completed_at > t.due_at:
                st["missed_deadline"] += 1
    out = []
    for st in steps.values():
        durations = st.pop("durations")
        st["median_seconds"] = statistics.median(durations) if durations else None
        st["p90_seconds"] = percentile(durations, 90)
        out.append(st)
    return out
