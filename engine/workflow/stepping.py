"""Advancing a workflow: run engine tasks (gateways, scripts, events) and fire due timers until quiet.

Why not ``BpmnWorkflow.do_engine_steps``: SpiffWorkflow 3.2 finds READY tasks with its stock task iterator,
whose ``max_depth`` is 1,000. Every pass of a loop adds its tasks *below* the previous pass in the task tree,
so after ~500 passes of a two-task loop (333 of a three-task one) the READY gateway or script sits deeper than
the iterator looks: nothing runs, no error is raised, and the case stays "running" with no ready task.

This module does the same work as ``do_engine_steps`` + ``refresh_timers`` (same order: deepest running
sub-process first, then the top level; depth-first within each tree, like the library) with the depth limit
lifted. The iterator keeps its own list (it does not recurse), so an unlimited depth is safe; the cost stays
small because :mod:`engine.workflow.pruning` keeps the tree of a long-lived case shallow between calls.

Nothing in a diagram bounds how long the engine may run without reaching a wait state: a gateway looping back
through a script, a parallel gateway feeding its own merge, a call activity calling its own process. The run
from one wait to the next therefore has a budget — :data:`MAX_ENGINE_STEPS` engine tasks,
:data:`MAX_STEPPING_SECONDS`, call activities nested at most :data:`MAX_CALL_DEPTH` deep — and past it raises
:class:`StepLimit` naming the last element run (the operation turns it into a ProcessError and rolls back: the
case stays as it was, and the write lock is not held for ever).
"""
from __future__ import annotations

import sys
import time

from SpiffWorkflow.util.task import TaskState

#: the stock iterator's depth limit, lifted (the iterator is iterative: no recursion, no stack to exhaust)
UNLIMITED_DEPTH = sys.maxsize


#: engine tasks (scripts, gateways, events, call activities...) one call may run before it gives up: the
#: shipped processes run fewer than 50 per step; a loop with no wait state on it reaches this in ~1 s
MAX_ENGINE_STEPS = 1000
#: and the time they may take together (a script may take up to the sandbox's own limit each)
MAX_STEPPING_SECONDS = 5.0
#: call activities nested in each other (a process calling itself, or A calling B calling A, nests for ever)
MAX_CALL_DEPTH = 25


class StepLimit(Exception):
    """The engine ran past its budget without reaching a wait state; ``task`` is the last one it ran."""

    def __init__(self, message: str, task):
        super().__init__(message)
        self.task = task


class _Budget:
    __slots__ = ("steps", "deadline")

    def __init__(self):
        self.steps = 0
        self.deadline = time.monotonic() + MAX_STEPPING_SECONDS

    def spend(self, task) -> None:
        self.steps += 1
        if self.steps > MAX_ENGINE_STEPS:
            raise StepLimit(f"the process ran {MAX_ENGINE_STEPS:,} engine steps without reaching a wait state (a "
                            f"user task, a message or a timer): a loop or a call with none on its way never ends",
                            task)
        if getattr(task.workflow, "depth", 0) > MAX_CALL_DEPTH:
            raise StepLimit(f"sub-processes and call activities are nested more than {MAX_CALL_DEPTH} deep: a "
                            f"process calls itself, directly or through the processes it calls", task)
        if time.monotonic() > self.deadline:
            raise StepLimit(f"the process ran engine steps for more than {MAX_STEPPING_SECONDS:g} s without reaching "
                            f"a wait state (a user task, a message or a timer)", task)


def ready_engine_tasks(wf) -> list:
    """READY tasks the engine runs itself (not manual), depth-first, at any depth (sub-processes included,
    as the stock iterator descends into running sub-processes)."""
    return wf.get_tasks(state=TaskState.READY, manual=False, max_depth=UNLIMITED_DEPTH)


def _run_ready(workflow, budget: _Budget) -> int:
    count = 0
    for task in ready_engine_tasks(workflow):
        if task.state == TaskState.READY:  # an earlier task of this sweep may have cancelled it
            budget.spend(task)
            task.run()
            count += 1
    return count


def _engine_step_round(wf, budget: _Budget) -> bool:
    """One round of ``BpmnWorkflow._do_engine_steps`` without the depth limit."""
    active = wf.get_active_subprocesses()
    for sub in sorted(active, key=lambda s: s.depth, reverse=True):
        while _run_ready(sub, budget) > 0:
            pass
        if sub.parent_task_id is not None:
            task = wf.get_task_from_id(sub.parent_task_id)
            task.task_spec._update(task)
    count = _run_ready(wf, budget)
    return count > 0 or len(wf.get_active_subprocesses()) > len(active)


def _run_until_quiet(wf, budget: _Budget) -> None:
    while _engine_step_round(wf, budget):
        pass


def do_engine_steps(wf) -> None:
    """Run every READY engine task until only human tasks and waiting events are left, then refresh timers
    (``BpmnWorkflow.do_engine_steps`` with the depth limit lifted, and a budget: :class:`StepLimit`)."""
    _run_until_quiet(wf, _Budget())
    wf.refresh_timers()  # walks the event manager's waiting tasks: no iterator, no depth limit


def _refresh_timers(wf) -> bool:
    """``refresh_timers``; True when it changed the state of a waiting timer task (a timer fired: something
    became ready to run). Only the event manager's waiting tasks are looked at, not the whole tree."""
    waiting = list(wf.event_manager.tasks.values())
    states = [t.state for t in waiting]
    wf.refresh_timers()
    return any(t.state != state for t, state in zip(waiting, states)) or len(wf.event_manager.tasks) != len(waiting)


def advance(wf, max_rounds: int = 1000) -> None:
    """Fire due timers and run engine steps until nothing changes any more. ``max_rounds`` bounds a diagram
    that never settles. (An overdue cycle on a boundary event catches up within one round: each repetition's
    next event is due already, so the missed repetitions run one after the other with no wait between them
    and spend from that round's budget: ~300 of a three-task reminder path fit.)

    Engine steps run until a sweep finds nothing ready; after that only a refresh of the timers can make
    something ready again, so when the refresh fires nothing the workflow is settled — no further sweep of the
    tree and no before/after snapshots (the stock loop: two more sweeps and four snapshots per call)."""
    wf.refresh_timers()
    for _ in range(max_rounds):
        # a budget per round: each round ends where everything waits again, and the rounds after it are timers
        # firing (an overdue cycle catching up), bounded by max_rounds, not a loop that never waits
        _run_until_quiet(wf, _Budget())
        if not _refresh_timers(wf):
            return
