"""Reading what a SpiffWorkflow workflow is doing, without the stock task iterator.

The stock iterator stops at depth 1000 (a long-lived loop silently stalls), so everything here walks the
task dictionaries of the workflow and its sub-workflows directly: cost is linear in case size and never
misses a task. Used to build the inbox, timer and message indexes and to diff states for the history.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState


def all_tasks(wf):
    """Every task of the workflow and of all its (call activity / embedded) sub-workflows."""
    yield from wf.tasks.values()
    for sub in wf.subprocesses.values():
        yield from sub.tasks.values()


def find_task(wf, task_id):
    """The task with this id in the workflow or its sub-processes, or None. Unlike ``get_task_from_id`` this
    does not raise for an unknown id: a completed task may have been pruned (engine/workflow/pruning.py), which for a
    caller means the same as finding it completed — it is no longer ready."""
    key = task_id if isinstance(task_id, UUID) else UUID(str(task_id))
    task = wf.tasks.get(key)
    if task is not None:
        return task
    for sub in wf.subprocesses.values():
        task = sub.tasks.get(key)
        if task is not None:
            return task
    return None


def is_visible(task) -> bool:
    """A task of a BPMN element (not an engine-internal Start/End/join spec)."""
    return getattr(task.task_spec, "bpmn_id", None) is not None


def snapshot(wf) -> dict:
    """{task id: state} of visible tasks — the 'before' of a history diff."""
    return {t.id: t.state for t in all_tasks(wf) if is_visible(t)}


def ready_human_tasks(wf) -> list:
    return [t for t in all_tasks(wf) if t.state == TaskState.READY and t.task_spec.manual]


def properties(task_spec) -> dict:
    return (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}


def element_type(task_spec) -> str:
    return type(task_spec).__name__


def process_id(task) -> str:
    return task.workflow.spec.name


@dataclass
class PendingTimer:
    task: object
    due_at: datetime
    kind: str
    attached_to: object | None  # the human task a boundary timer sits on
    interrupting: bool


@dataclass
class PendingMessage:
    task: object
    name: str


def _boundary_host(task):
    """For a boundary event task, the activity it is attached to (its sibling under the boundary split)."""
    parent = task.parent
    if parent is None or "BoundaryEventSplit" not in type(parent.task_spec).__name__:
        return None
    for sibling in parent.children:
        if sibling is not task and not hasattr(sibling.task_spec, "event_definition"):
            return sibling
    return None


def _due(value) -> datetime | None:
    """When a waiting timer is due, from the value SpiffWorkflow reports: an ISO string (date and duration
    timers, a cycle with repetitions left), or — a cycle whose repetitions are spent, until the next refresh
    completes it — the cycle's own ``{"cycles": 0, "next": …}``: due at that ``next``, when the refresh
    that completes it runs."""
    if isinstance(value, dict):
        value = value.get("next")
    if isinstance(value, datetime):
        return value
    return TimerEventDefinition.get_datetime(value) if isinstance(value, str) and value else None


def pending_events(wf) -> tuple[list[PendingTimer], list[PendingMessage]]:
    timers, messages = [], []
    for task in list(wf.event_manager.tasks.values()):
        if task.state != TaskState.WAITING:
            continue
        definition = task.task_spec.event_definition
        if isinstance(definition, TimerEventDefinition):
            due = _due(definition.details(task).value)
            if due is None:
                continue
            timers.append(PendingTimer(task, due, type(definition).__name__, _boundary_host(task),
                                       bool(getattr(task.task_spec, "cancel_activity", False))))
        elif isinstance(definition, MessageEventDefinition):
            messages.append(PendingMessage(task, definition.name))
    return timers, messages


def due_date(human_task, timers: list[PendingTimer]) -> datetime | None:
    """Due = the interrupting boundary timer if any, else the latest non-interrupting one (the escalation)."""
    # a boundary timer on a multi-instance task sits on the instances' parent
    hosts = {id(human_task), id(human_task.parent)}
    mine = [t for t in timers if t.attached_to is not None and id(t.attached_to) in hosts]
    if not mine:
        return None
    interrupting = [t.due_at for t in mine if t.interrupting]
    return min(interrupting) if interrupting else max(t.due_at for t in mine)


def _on_side_path(task) -> bool:
    """Reached through a non-interrupting boundary event (a reminder or escalation branch)?"""
    node = task.parent
    while node is not None:
        spec = node.task_spec
        if getattr(spec, "cancel_activity", None) is False:
            return True
        node = node.parent
    return False


def end_event_reached(wf) -> str | None:
    """Id of the end event the top-level process finished on: the latest one reached on the main path
    (reminder/escalation branches of non-interrupting timers end too, but are not the outcome)."""
    ends = [t for t in wf.tasks.values()
            if t.state == TaskState.COMPLETED and element_type(t.task_spec) == "EndEvent" and is_visible(t)]
    if not ends:
        return None
    main = [t for t in ends if not _on_side_path(t)] or ends
    return max(main, key=lambda t: t.last_state_change).task_spec.bpmn_id


def latest_data(wf) -> dict:
    """The case's current variables: the data carried by its live frontier (ready, waiting, running
    elements — each holds what its branch knows now, sub-processes included); for an ended case, the
    data of the end events it reached."""
    live = (TaskState.READY, TaskState.WAITING, TaskState.STARTED)
    frontier = [t for t in all_tasks(wf) if t.state in live and getattr(t.task_spec, "bpmn_id", None)]
    if not frontier:
        frontier = [t for t in all_tasks(wf)
                    if t.state == TaskState.COMPLETED and type(t.task_spec).__name__ == "EndEvent"]
    merged: dict = {}
    for task in frontier:
        merged.update(task.data)
    return merged


def public_data(data: dict) -> dict:
    return {k: v for k, v in data.items() if not k.startswith("_")}
