"""Keeping a long-lived case's workflow state small: drop the finished past SpiffWorkflow no longer reads.

SpiffWorkflow keeps every task it ever created. Each pass of a loop adds its tasks below the previous pass,
so the state (and the cost of loading, stepping and saving it) grows with the age of the case, and past
depth 1,000 the library's own task iterator stops finding anything (see :mod:`engine.workflow.stepping`). The full
record of what happened lives in the ``event`` table (:mod:`engine.records.history`), not in the task tree, so the
tree only has to keep what the library still needs to go on. :func:`prune` is called just before a case is
saved, after the history diff of the call has been recorded; it removes two kinds of finished tasks:

1. **Finished side branches** — a subtree in which every task is finished (completed, cancelled, error),
   hanging off a *completed* task that still leads to something live: earlier loop passes' cancelled
   boundary events, reminder branches that ended, parallel branches already merged, the instances of a
   multi-instance task that has completed. Kept while a parallel/inclusive gateway of the same element is
   WAITING (its firing rule reads the other arrivals' parents, and merges their data when it fires).
2. **Completed links of a chain** — a completed task with a single child, on the path to something live:
   the passes of a loop. Its child is re-attached to its parent (ancestry between the kept tasks is
   unchanged, so ``is_descendant_of`` answers as before). Never removed: the root, the parent of an
   unfinished task (it re-inherits its parent's data on every update — a waiting catch event on every
   timer refresh — and a join reads which input its parent was), the split a structured join will look for
   (``find_ancestor`` of a boundary-event join), a non-interrupting boundary event (it marks a side path:
   ``end_event_reached``), a task that is not completed (running multi-instance or sub-process tasks, with
   their children).

A removed call activity takes its (completed) sub-process with it. Live tasks and their data are never
touched, nor are finished cases (nothing grows any more, and the ended case's view reads its end events).
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState


def prune(wf) -> int:
    """Drop the finished past of a running workflow and of its running sub-processes, in place.
    Returns the number of tasks removed."""
    if wf.completed:
        return 0
    removed = _prune_tree(wf, wf)
    for sub_id, sub in list(wf.subprocesses.items()):
        if sub_id in wf.subprocesses and not sub.completed:
            removed += _prune_tree(wf, sub)
    return removed


def _walk(root):
    """Tasks of one tree, parents before children (explicit stack: trees may be deep)."""
    stack = [root]
    while stack:
        task = stack.pop()
        yield task
        stack.extend(reversed(task.children))


def _unfinished(task) -> bool:
    return not task.has_state(TaskState.FINISHED_MASK)


def _prune_tree(top, w) -> int:
    root = w.task_tree
    order = list(_walk(root))
    # live_below: the task or one of its descendants is not finished (children after parents in ``order``)
    live_below = {}
    for task in reversed(order):
        live_below[task.id] = _unfinished(task) or any(live_below[c] for c in task._children)

    keep = {root.id}
    waiting_joins = set()
    for task in order:
        spec = task.task_spec
        if not _unfinished(task):
            if getattr(spec, "cancel_activity", None) is False:
                keep.add(task.id)
            continue
        if task.parent is not None:
            # an unfinished task re-inherits its parent's data whenever it is updated (a waiting catch
            # event on every timer refresh); a join also reads which input its parent was
            keep.add(task.parent.id)
        if isinstance(spec, Join):
            split = getattr(spec, "split_task", None)
            if split is not None:
                anchor = task.parent
                while anchor is not None and anchor.task_spec.name != split:
                    anchor = anchor.parent
                if anchor is not None:
                    keep.add(anchor.id)
            if task.state == TaskState.WAITING and isinstance(spec, UnstructuredJoin) \
                    and not isinstance(spec, _EndJoin):
                waiting_joins.add(spec.name)

    # 1. finished side branches off completed tasks on a live path
    side, links = set(), set()
    for task in order:
        if task.id in side or task.state != TaskState.COMPLETED or not live_below[task.id]:
            continue
        for child in task.children:
            if live_below[child.id]:
                continue
            subtree = list(_walk(child))
            if waiting_joins and any(t.task_spec.name in waiting_joins for t in subtree):
                continue
            side.update(t.id for t in subtree)
    # 2. completed single-child links on a live path
    for task in order:
        if task.id in side or task.id in keep or task.state != TaskState.COMPLETED or not live_below[task.id]:
            continue
        if sum(1 for c in task._children if c not in side) == 1:
            links.add(task.id)
    if not side and not links:
        return 0
    _splice(w, root, side, links)
    dropped = side | links
    _forget(top, w, dropped)
    return len(dropped)


def _splice(w, root, side: set, links: set) -> None:
    """Re-link the kept tasks: a removed side branch disappears, a removed link is replaced by its child."""
    tasks = w.tasks
    stack = [root]
    while stack:
        task = stack.pop()
        children, pending = [], list(task._children)
        while pending:
            cid = pending.pop(0)
            if cid in links:
                pending = list(tasks[cid]._children) + pending
            elif cid not in side:
                children.append(cid)
        task._children = children
        for cid in children:
            tasks[cid]._parent = task.id
        stack.extend(tasks[cid] for cid in children)


def _forget(top, w, dropped: set) -> None:
    """Remove dropped tasks from the workflow, the event manager, and drop their sub-processes."""
    for tid in dropped:
        w.tasks.pop(tid, None)
        top.event_manager.tasks.pop(tid, None)
        _drop_subprocess(top, tid)
    if w.last_task is not None and w.last_task.id in dropped:
        w.last_task = None


def _drop_subprocess(top, task_id) -> None:
    sub = top.subprocesses.pop(task_id, None)
    if sub is None:
        return
    for tid in list(sub.tasks):
        top.event_manager.tasks.pop(tid, None)
        _drop_subprocess(top, tid)
