"""Migrating running cases between versions of their process.

A running case moves to another version of its process in one transaction (load → SpiffWorkflow
``diff_workflow``/``migrate_workflow`` → engine steps → save with the new ``definition_id``, rewriting the
inbox, timer and message indexes → history event ``case.migrated``). A case cannot move — and is left
untouched — when a task it is waiting at (ready, waiting, running) or an element it has already passed
does not exist in the target version, when a sub-process it runs is gone, or when the engine steps fail.
A dry run is the same migration, rolled back: it reports exactly what would happen.

Differences to SpiffWorkflow's stock ``migrate_workflow``: a reset task keeps its own data (a
multi-instance child keeps its item, e.g. the ``inspector`` it is assigned to), and a waiting timer whose
definition did not change keeps its due time (a 30-day deadline does not restart at migration).

Only a quality manager migrates (:data:`engine.cases.deployment.DEPLOY_ROLE`).
"""
from __future__ import annotations

from copy import deepcopy

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.records import history
from engine.actors import Actor
from .deployment import DEPLOY_ROLE, find_version, require_quality_manager
from engine.errors import Conflict, EngineError, ProcessError
from engine.storage.models import Case, HumanTask
from .operation import Operation, process_error
from engine.sandbox import SandboxViolation, ScriptTimeout
from .services import Engine
from .spec_diff import element_changes, label, visible
from engine.vocabulary import FORM, PRIORITY, SIGNATURE_MEANING, UI_FORM
from engine.workflow.workflow_state import all_tasks, properties, ready_human_tasks

_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
#: what the stock migrate_workflow resets and re-predicts
_RESET = TaskState.READY | TaskState.WAITING


class _Rollback(Exception):
    """Leave a write transaction without committing (dry runs, cases that cannot move)."""

    def __init__(self, result: dict):
        super().__init__("rollback")
        self.result = result


class Migration:
    """Move running cases to another version of their process. Every case moves in its own transaction."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.db = engine.db

    def migrate_case(self, case_id: str, actor: Actor, to_version: int | None = None, dry_run: bool = False) -> dict:
        """Move one running case to ``to_version`` (default: the latest) of its process, or report (dry run)
        what would happen. Returns the per-case report; ``migrated`` says whether it moved."""
        require_quality_manager(actor, "migrate cases")
        try:
            with self.db.write() as s:
                result = self._migrate(s, case_id, actor, to_version)
                if dry_run or not result["can_migrate"]:
                    raise _Rollback(result)
        except _Rollback as rb:
            return rb.result
        result["migrated"] = True
        self.engine.timers_changed()  # wake the embedded scheduler, if there is one
        return result

    def migrate_version(self, key: str, version: int, actor: Actor, to_version: int | None = None,
                        dry_run: bool = False) -> dict:
        """Every open case of ``key`` v``version``, each in its own transaction: those that can move do (or
        would, in a dry run), the others are listed with the reasons and left untouched."""
        require_quality_manager(actor, "migrate cases")
        with self.db.read() as s:
            source = find_version(s, key, version)
            target = find_version(s, key, to_version) if to_version is not None else \
                self.engine.specs.latest(s, key)
            ids = list(s.scalars(sa.select(Case.id).where(Case.definition_id == source.id, Case.status == "running")
                                 .order_by(Case.created_at, Case.id)))
        cases = []
        for case_id in ids:
            try:
                cases.append(self.migrate_case(case_id, actor, target.version, dry_run))
            except EngineError as exc:  # e.g. the case was changed meanwhile: report it, go on with the others
                cases.append({"case_id": case_id, "process_key": key, "from_version": version,
                              "to_version": target.version, "can_migrate": False, "migrated": False,
                              "reasons": [exc.message]})
        return {"key": key, "from_version": version, "to_version": target.version, "dry_run": dry_run,
                "total": len(cases), "can_migrate": sum(c["can_migrate"] for c in cases),
                "migrated": sum(c["migrated"] for c in cases),
                "blocked": sum(not c["can_migrate"] for c in cases), "cases": cases}

    def _migrate(self, s, case_id: str, actor: Actor, to_version: int | None) -> dict:
        ops = Operation(self.engine, s, actor)
        loaded = ops.load(case_id)
        row, source = loaded.row, loaded.definition
        target = find_version(s, row.process_key, to_version) if to_version is not None else \
            self.engine.specs.latest(s, row.process_key)
        result = {"case_id": row.id, "business_key": row.business_key, "organisation_id": row.organisation_id,
                  "process_key": row.process_key, "from_version": source.version, "to_version": target.version,
                  "can_migrate": False, "migrated": False, "reasons": [],
                  "ready_tasks_before": [_task(t) for t in ready_human_tasks(loaded.wf)]}
        reasons = result["reasons"]
        if row.status != "running":
            reasons.append(f"the case has ended ({row.status}); only open cases are migrated")
            return result
        if target.id == source.id:
            reasons.append(f"the case already runs version {target.version}")
            return result
        changes = element_changes(self.engine, source, target)
        result.update(added_tasks=changes["added"], removed_tasks=changes["removed"], changed_tasks=changes["changed"])

        wf = loaded.wf
        new_spec, new_subs = self.engine.specs.of(target)
        try:
            top, sp_diffs = diff_workflow(self.engine.serializer.registry, wf, new_spec, new_subs)
        except (KeyError, AttributeError) as exc:  # an element the comparison cannot place
            what = f"element '{exc.args[0]}'" if isinstance(exc, KeyError) and exc.args else "an element"
            reasons.append(f"the versions cannot be compared for this case: {what} of the case has no place in "
                           f"version {target.version}")
            return result
        v = f"version {target.version}"
        pairs = [(wf, top, new_spec)]
        for sp_id, sub in wf.subprocesses.items():
            diff = sp_diffs.get(sp_id)
            if diff is None:
                state = "is running" if any(t.state & _LIVE for t in sub.tasks.values()) else "was run"
                reasons.append(f"the sub-process '{sub.spec.name}' {state} in this case but is not part of {v}")
                continue
            pairs.append((sub, diff, new_subs[sub.spec.name]))
        changed_live = []
        for _workflow, diff, _spec in pairs:
            for t in diff.removed:
                if visible(t.task_spec) and t.state & _LIVE:
                    reasons.append(f"{label(t.task_spec)} is {_state(t)} in this case but does not exist in {v}")
            changed_live += [t for t in diff.changed if visible(t.task_spec) and t.state & _LIVE]
        if reasons:
            return result
        attrs = {(c["process"], c["element_id"]): c["changes"] for c in changes["changed"]}
        affected = [{**_task(t), "state": _state(t), "changes": attrs.get((t.workflow.spec.name,
                                                                           t.task_spec.bpmn_id), [])}
                    for t in changed_live]

        # migrate: realign specs, reset and re-predict what waits; keep task data and unchanged timers' due times
        timers = {t.id: (t.task_spec, deepcopy(t.internal_data)) for t in all_tasks(wf)
                  if t.state == TaskState.WAITING and isinstance(getattr(t.task_spec, "event_definition", None),
                                                                   TimerEventDefinition)}
        try:
            for workflow, diff, spec in pairs:
                _migrate_workflow(diff, workflow, spec)  # re-predicting may run pre-scripts of the new version
        except (SpiffWorkflowException, SandboxViolation, ScriptTimeout, KeyError) as exc:
            error = process_error(exc, row.id) if isinstance(exc, SpiffWorkflowException) else None
            why = error.message if error else (f"element '{exc.args[0]}' is missing" if isinstance(exc, KeyError)
                                               and exc.args else str(exc))
            reasons.append(f"the case fails on {v}: {why}"
                           + (f" (element {error.details['element_id']})" if error and error.details.get("element_id")
                              else ""))
            return result
        wf.subprocess_specs = dict(new_subs)
        restarted = []
        for task in all_tasks(wf):
            saved = timers.get(task.id)
            if saved is None or task.state != TaskState.WAITING:
                continue
            old_spec, internal = saved
            if _same_timer(old_spec, task.task_spec) and "event_value" in internal:
                task.internal_data["event_value"] = internal["event_value"]
            else:
                restarted.append(label(task.task_spec))
        orphans = [t for t in all_tasks(wf) if not _spec_of(t)]
        for t in orphans:
            if not visible(t.task_spec):
                continue
            if t.state & TaskState.FINISHED_MASK:
                reasons.append(f"{label(t.task_spec)} was {_state(t)} in this case but does not exist in {v} "
                               "(the case's state refers to it)")
            else:
                reasons.append(f"{label(t.task_spec)} is {_state(t)} in this case but does not exist in {v}")
        if orphans and not reasons:
            reasons.append(f"the case holds engine tasks that do not exist in {v}")
        if reasons:
            return result

        row.definition_id = target.id
        row.definition = target
        loaded.definition = target
        history.record(s, loaded, actor, "case.migrated", role=DEPLOY_ROLE, data={
            "process_key": row.process_key, "from_version": source.version, "to_version": target.version,
            "from_content_hash": source.content_hash, "to_content_hash": target.content_hash,
            "affected_tasks": [a["element_id"] for a in affected], "timers_restarted": restarted})
        try:
            ops.run(loaded, lambda: None)
            ops.finish()
            self._refresh_inbox(s, ops, loaded)
        except ProcessError as exc:
            where = f" (element {exc.details['element_id']})" if exc.details.get("element_id") else ""
            reasons.append(f"the case fails on {v}: {exc.message}{where}")
            return result
        except Conflict as exc:
            reasons.append(exc.message)
            return result

        present = {(t.workflow.spec.name, t.task_spec.bpmn_id) for t in all_tasks(wf)
                   if visible(t.task_spec) and not t.state & TaskState.FINISHED_MASK}
        for a in result["added_tasks"]:
            a["ahead"] = (a["process"], a["element_id"]) in present
        result.update(can_migrate=True, affected_ready_tasks=[a for a in affected if a["state"] == "ready"],
                      affected_waiting=[a for a in affected if a["state"] != "ready"], timers_restarted=restarted,
                      ready_tasks_after=[_task(t) for t in ready_human_tasks(wf)])
        return result

    def _refresh_inbox(self, s, ops: Operation, loaded) -> None:
        """Ready tasks that kept their id keep their inbox row: bring its name, role, form, assignee and
        priority up to the new version (a changed role also drops the claim)."""
        for task in ready_human_tasks(loaded.wf):
            h = s.get(HumanTask, str(task.id))
            if h is None or h.status != "ready":
                continue
            ts, props = task.task_spec, properties(task.task_spec)
            if h.role != ts.lane:
                h.claimed_by = None
            h.name, h.role = ts.bpmn_name, ts.lane
            h.form, h.ui_form = props.get(FORM), props.get(UI_FORM)
            h.signature_meaning = props.get(SIGNATURE_MEANING)
            h.priority = int(props.get(PRIORITY, 0) or 0)
            h.assignee = ops.assignee_for(loaded, task, props)
        s.flush()


# -- helpers -----------------------------------------------------------------------------------------------

def _migrate_workflow(diff, workflow, spec) -> list:
    """SpiffWorkflow's ``bpmn.util.diff.migrate_workflow``, except that a reset task keeps its own data (the
    stock one copies its parent's, which loses a multi-instance child's item)."""
    workflow.spec = spec
    for task in workflow.tasks.values():
        if diff.alignment.get(task) is not None:
            task.task_spec = diff.alignment.get(task)
    removed = []
    for task in list(workflow.get_tasks(state=_RESET, skip_subprocesses=True)):
        if task.id in workflow.tasks:
            removed.extend(task.reset_branch(deepcopy(task.data)))
    if workflow.last_task not in workflow.tasks:
        workflow.last_task = None
    return removed


def _spec_of(task) -> bool:
    """Does the task's spec belong to its workflow's (new) spec?"""
    return task.workflow.spec.task_specs.get(task.task_spec.name) is task.task_spec


def _same_timer(old, new) -> bool:
    a, b = getattr(old, "event_definition", None), getattr(new, "event_definition", None)
    return type(a) is type(b) and getattr(a, "expression", None) == getattr(b, "expression", None)






def _state(task) -> str:
    return TaskState.get_name(task.state).lower()




def _task(task) -> dict:
    return {"task_id": str(task.id), "element_id": task.task_spec.bpmn_id, "name": task.task_spec.bpmn_name,
            "process": task.workflow.spec.name}
