"""The engine's service API: every call is one database transaction.

load → check → act → persist (state, inbox, timers, message subscriptions, history) → commit. On any error
the transaction rolls back and the in-memory workflow is thrown away, so the database and the next load are
exactly as before. The HTTP layer, the scheduler and the tests all go through :class:`Engine`.
"""
from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jsonschema
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition  # spiff class: equality is by class
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import history, signatures
from .actors import SYSTEM, Actor
from .db import Database
from .errors import Conflict, DefinitionInvalid, EngineError, Forbidden, InvalidFormData, NotFound, ProcessError
from .library import Library, load_library, read_directories
from .models import Case, Event, HumanTask, MessageSubscription, ProcessDefinition, Timer, utcnow
from .sandbox import SandboxViolation, ScriptTimeout, make_script_engine
from .serialization import StateSerializer
from .workflow_state import (
    all_tasks,
    due_date,
    end_event_reached,
    pending_events,
    properties,
    ready_human_tasks,
    snapshot,
)

#: variables the engine puts into every case; starting data may not override them
ENGINE_VARIABLES = ("case_id", "organisation_id", "business_key", "started_at", "parent_case_id")
#: a message cascade (case throws → starts/wakes case → throws …) longer than this is a diagram loop
MAX_CASCADE = 50


@dataclass
class TaskView:
    id: str
    case_id: str
    process_key: str
    element_id: str
    name: str | None
    role: str | None
    assignee: str | None
    claimed_by: str | None
    form: str | None
    signature_meaning: str | None
    due_at: datetime | None
    priority: int
    status: str
    organisation_id: str | None
    created_at: datetime
    completed_at: datetime | None = None
    completed_by: str | None = None

    @property
    def overdue(self) -> bool:
        return self.status == "ready" and self.due_at is not None and self.due_at < utcnow()

    @classmethod
    def of(cls, row: HumanTask) -> "TaskView":
        return cls(row.id, row.case_id, row.process_key, row.element_id, row.name, row.role, row.assignee,
                   row.claimed_by, row.form, row.signature_meaning, row.due_at, row.priority, row.status,
                   row.organisation_id, row.created_at, row.completed_at, row.completed_by)


@dataclass
class CaseView:
    id: str
    process_key: str
    definition_version: int
    organisation_id: str | None
    business_key: str
    status: str
    outcome: str | None
    parent_case_id: str | None
    created_at: datetime
    ended_at: datetime | None
    tasks: list[TaskView] = field(default_factory=list)
    data: dict = field(default_factory=dict)


@dataclass
class DeployResult:
    report: dict
    deployed: list[dict]  # {key, version, created}


class _Loaded:
    """A case in the middle of an operation: its row, its live workflow and the 'before' snapshot."""

    def __init__(self, row: Case, wf: BpmnWorkflow, definition: ProcessDefinition):
        self.row, self.wf, self.definition = row, wf, definition
        self.before = snapshot(wf)
        self.next_seq: int | None = None  # history sequence, read lazily from the event table


class Engine:
    def __init__(self, db: Database, *, script_time_limit: float = 2.0):
        self.db = db
        self.serializer = StateSerializer()
        self.script_engine = make_script_engine(time_limit=script_time_limit)
        self._specs: dict[int, tuple] = {}
        self._specs_lock = threading.Lock()
        self._timer_listeners: list = []
        self._visibility: dict = {}
        self.failed_timer_cases: list[str] = []  # cases whose due timers failed in the last firing

    def on_timers_changed(self, listener) -> None:
        """Call ``listener()`` after every committed operation that may have changed the pending timers
        (the embedded scheduler re-arms its wake-up with it)."""
        self._timer_listeners.append(listener)

    def _timers_changed(self) -> None:
        for listener in list(self._timer_listeners):
            try:
                listener()
            except Exception:  # a listener must never undo a committed operation
                import logging

                logging.getLogger(__name__).exception("timer listener failed")

    # ------------------------------------------------------------------ process library
    def validate(self, files: dict[str, str]) -> Library:
        return load_library(files)

    def deploy(self, files: dict[str, str], deployed_by: str = "system", note: str | None = None) -> DeployResult:
        """Deploy a bundle: each process whose content changed becomes a new immutable version."""
        lib = load_library(files)
        if not lib.ok:
            raise DefinitionInvalid(f"the bundle has {len(lib.errors)} error(s)", lib.errors,
                                    warnings=[p.to_dict() for p in lib.warnings])
        deployed = []
        with self.db.write() as s:
            for key, pv in sorted(lib.processes.items()):
                latest = self._latest_definition(s, key)
                if latest is not None and latest.content_hash == pv.content_hash:
                    deployed.append({"key": key, "version": latest.version, "created": False})
                    continue
                version = (latest.version + 1) if latest else 1
                row = ProcessDefinition(
                    key=key, name=pv.name, version=version, content_hash=pv.content_hash, files=pv.files,
                    spec=self.serializer.dump_specs(pv.spec, pv.subprocess_specs), start_message=pv.start_message,
                    deployed_by=deployed_by, deployed_at=utcnow(), note=note)
                s.add(row)
                s.flush()
                history.record_system(s, deployed_by, "definition.deployed",
                                      {"key": key, "version": version, "content_hash": pv.content_hash, "note": note})
                deployed.append({"key": key, "version": version, "created": True})
        return DeployResult(lib.report(), deployed)

    def deploy_directories(self, processes_dir: str | Path, forms_dir: str | Path,
                           deployed_by: str = "system", note: str | None = None) -> DeployResult:
        return self.deploy(read_directories(processes_dir, forms_dir), deployed_by, note)

    def definitions(self) -> list[dict]:
        with self.db.read() as s:
            rows = s.scalars(sa.select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version))
            return [{"key": r.key, "name": r.name, "version": r.version, "content_hash": r.content_hash,
                     "start_message": r.start_message, "deployed_by": r.deployed_by, "deployed_at": r.deployed_at}
                    for r in rows]

    # ------------------------------------------------------------------ cases
    def start_case(self, process_key: str, actor: Actor, organisation_id: str | None,
                   data: dict | None = None, business_key: str | None = None) -> CaseView:
        """Start a case of the latest version of ``process_key``.

        Who may start it is drawn in the diagram: the lane of the start event names the role (applicants
        only for their own organisation).
        """
        data = dict(data or {})
        clash = sorted(set(data) & set(ENGINE_VARIABLES))
        if clash:
            raise InvalidFormData("starting data may not set engine variables",
                                  [{"field": f"/{k}", "message": "set by the engine"} for k in clash])
        with self.db.write() as s:
            definition = self._latest_definition(s, process_key)
            if definition is None:
                raise NotFound(f"no process '{process_key}' is deployed", process_key=process_key)
            self._check_may_start(definition, actor, organisation_id)
            ops = _Operation(self, s, actor)
            case_id = ops.start(definition, organisation_id, data, business_key, parent_case_id=None)
            ops.finish()
        self._timers_changed()
        return self.get_case(case_id)

    def get_case(self, case_id: str, with_data: bool = True) -> CaseView:
        with self.db.read() as s:
            row = s.get(Case, case_id)
            if row is None:
                raise NotFound(f"case {case_id} does not exist", case_id=case_id)
            tasks = s.scalars(sa.select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "ready")
                              .order_by(HumanTask.created_at)).all()
            view = CaseView(row.id, row.process_key, row.definition.version, row.organisation_id, row.business_key,
                            row.status, row.outcome, row.parent_case_id, row.created_at, row.ended_at,
                            [TaskView.of(t) for t in tasks])
            if with_data:
                view.data = _public_data(_latest_data(self._deserialize(row)))
            return view

    def linked_cases(self, case_id: str) -> list[CaseView]:
        with self.db.read() as s:
            ids = s.scalars(sa.select(Case.id).where(Case.parent_case_id == case_id).order_by(Case.created_at)).all()
        return [self.get_case(i, with_data=False) for i in ids]

    def ready_tasks(self, case_id: str) -> list[TaskView]:
        with self.db.read() as s:
            if s.get(Case, case_id) is None:
                raise NotFound(f"case {case_id} does not exist", case_id=case_id)
            rows = s.scalars(sa.select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "ready")
                             .order_by(HumanTask.created_at, HumanTask.element_id)).all()
            return [TaskView.of(r) for r in rows]

    def get_task(self, task_id: str) -> TaskView:
        with self.db.read() as s:
            row = s.get(HumanTask, task_id)
            if row is None:
                raise NotFound(f"task {task_id} does not exist", task_id=task_id)
            return TaskView.of(row)

    def task_form(self, task_id: str) -> dict:
        """The form of a task as the definition version of its case has it: JSON Schema, optional UI schema,
        and the task's current values of the form's fields (for re-display and corrections)."""
        with self.db.read() as s:
            row = s.get(HumanTask, task_id)
            if row is None:
                raise NotFound(f"task {task_id} does not exist", task_id=task_id)
            case = s.get(Case, row.case_id)
            schema = _form_schema(case.definition, row.form)
            ui = _form_schema(case.definition, row.ui_form)
            data = {}
            if schema is not None and row.status == "ready":
                task = self._deserialize(case).get_task_from_id(uuid.UUID(task_id))
                fields = set(schema.get("properties", {}))
                data = {k: v for k, v in (task.data if task else {}).items() if k in fields}
            return {"name": row.form, "schema": schema, "ui_schema": ui, "data": history._jsonable(data)}

    def complete_task(self, task_id: str, actor: Actor, data: dict | None = None,
                      signature: dict | None = None) -> CaseView:
        """Complete a READY human task as ``actor`` with form ``data`` — checked, run, saved atomically.

        A task whose diagram names a ``signatureMeaning`` is an electronic signature and completes only with
        ``signature={"method": "password"[, "meaning": …]}``. Contract: the engine trusts its caller to have
        re-verified the actor's password just before (the HTTP layer does, with
        :func:`engine.signatures.verify_signer`); the engine then records printed name, username, UTC time,
        meaning and the SHA-256 binding to ``data`` in the ``task.completed`` event (engine.signatures)."""
        data = dict(data or {})
        with self.db.write() as s:
            ref = s.get(HumanTask, task_id)
            if ref is None:
                raise NotFound(f"task {task_id} does not exist", task_id=task_id)
            if ref.status != "ready":
                raise Conflict(f"task '{ref.name or ref.element_id}' is already {ref.status}",
                               task_id=task_id, status=ref.status)
            ops = _Operation(self, s, actor)
            loaded = ops.load(ref.case_id)
            task = loaded.wf.get_task_from_id(uuid.UUID(task_id))
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict("the task is no longer ready (the case moved on)", task_id=task_id)
            role = self._check_may_complete(s, loaded, task, ref, actor)
            _validate_form(loaded.definition, ref.form, data, task, s)
            _check_attachments(s, loaded.row.id, data)
            signed = signatures.build(properties(task.task_spec).get("signatureMeaning") or ref.signature_meaning,
                                      signature, actor, case_id=loaded.row.id, task_id=task_id,
                                      element_id=ref.element_id, element_name=ref.name, data=data)
            old = {k: task.data.get(k) for k in data}
            task.data.update(data)
            ops.run(loaded, lambda: task.run())
            ops.record_completion(loaded, task, role, data, old, signed)
            case_id = loaded.row.id
            ops.finish()
        self._timers_changed()
        return self.get_case(case_id)

    def deliver_message(self, name: str, payload: dict | None, actor: Actor = SYSTEM, *,
                        organisation_id: str | None = None, case_id: str | None = None) -> list[str]:
        """Deliver a message from outside to the waiting case(s) it correlates with (by case id, else every
        waiting case of the organisation). Returns the ids of the cases that received it. A message never
        starts a process from outside: that is :meth:`start_case`, with its role check."""
        with self.db.write() as s:
            ops = _Operation(self, s, actor)
            targets = ops.route(name, payload or {}, organisation_id=organisation_id, case_id=case_id, parent=None,
                                allow_start=False)
            if not targets:
                where = f"case {case_id}" if case_id else f"organisation {organisation_id}"
                raise NotFound(f"no case of {where} is waiting for message '{name}'", message_name=name)
            ops.finish()
        self._timers_changed()
        return targets

    def due_timers(self, now: datetime | None = None) -> list[dict]:
        now = now or utcnow()
        with self.db.read() as s:
            rows = s.scalars(sa.select(Timer).where(Timer.due_at <= now).order_by(Timer.due_at)).all()
            return [{"case_id": r.case_id, "element_id": r.element_id, "due_at": r.due_at} for r in rows]

    def next_timer_due(self) -> datetime | None:
        with self.db.read() as s:
            return s.scalar(sa.select(sa.func.min(Timer.due_at)))

    def fire_due_timers(self, now: datetime | None = None) -> list[str]:
        """Fire every timer due by ``now`` (default: the clock), one transaction per case, cases in the order
        of their earliest due timer. Safe to run in several processes at once: a case is locked while it is
        advanced (PostgreSQL skips cases another scheduler holds; SQLite serialises writers), and a case
        whose timers were fired meanwhile is left alone — no timer fires twice."""
        now = now or utcnow()
        with self.db.read() as s:
            first_due = sa.func.min(Timer.due_at)
            case_ids = list(s.scalars(sa.select(Timer.case_id).where(Timer.due_at <= now)
                                      .group_by(Timer.case_id).order_by(first_due)))
        advanced, failed = [], []
        for case_id in case_ids:
            with self.db.write() as s:
                locked = sa.select(Case.id).where(Case.id == case_id, Case.status == "running")
                if not self.db.is_sqlite:
                    locked = locked.with_for_update(skip_locked=True)
                if s.scalar(locked) is None:
                    continue  # ended, or another scheduler is advancing it right now
                still_due = s.scalar(sa.select(sa.func.count(Timer.id)).where(Timer.case_id == case_id,
                                                                              Timer.due_at <= now))
                if not still_due:
                    continue  # fired by another scheduler meanwhile
                try:
                    with s.begin_nested():
                        ops = _Operation(self, s, SYSTEM)
                        loaded = ops.load(case_id)
                        ops.run(loaded, lambda: None)  # refresh timers + engine steps, repeated while they fire
                        ops.finish()
                except EngineError as exc:
                    # the case stays exactly as it was; the failure is on record and the others go on
                    history.record_system(s, SYSTEM.username, "timer.failed", {"case_id": case_id, **exc.to_dict()})
                    failed.append(case_id)
                    continue
                advanced.append(case_id)
        self.failed_timer_cases = failed
        if advanced:
            self._timers_changed()
        return advanced

    def schedule(self, *, organisation_id: str | None = None, kind: str | None = None,
                 since: datetime | None = None, until: datetime | None = None, case_ids=None,
                 limit: int = 500) -> list[dict]:
        """Upcoming timers: surveillance audits, annual reports, renewals, expiries, task deadlines.

        ``kind`` is the timer's ``scheduleKind`` property in the diagram, else ``task_deadline`` /
        ``task_reminder`` for timers on a user task, else ``timer``."""
        stmt = (sa.select(Timer, Case).join(Case, Case.id == Timer.case_id).where(Case.status == "running")
                .order_by(Timer.due_at, Timer.id))
        if organisation_id:
            stmt = stmt.where(Case.organisation_id == organisation_id)
        if since:
            stmt = stmt.where(Timer.due_at >= since)
        if until:
            stmt = stmt.where(Timer.due_at <= until)
        if case_ids is not None:
            stmt = stmt.where(Case.id.in_(case_ids))
        out = []
        with self.db.read() as s:
            for timer, case in s.execute(stmt):
                spec = self._timer_spec(case.definition, timer.element_id)
                props = properties(spec) if spec is not None else {}
                if props.get("scheduleKind"):
                    timer_kind = props["scheduleKind"]
                elif timer.attached_to:
                    due = s.scalar(sa.select(HumanTask.due_at).where(HumanTask.id == timer.attached_to))
                    timer_kind = "task_deadline" if timer.interrupting or due == timer.due_at else "task_reminder"
                else:
                    timer_kind = "timer"
                if kind and timer_kind != kind:
                    continue
                task = s.get(HumanTask, timer.attached_to) if timer.attached_to else None
                out.append({"case_id": case.id, "business_key": case.business_key, "process_key": case.process_key,
                            "organisation_id": case.organisation_id, "element_id": timer.element_id,
                            "name": timer.name, "kind": timer_kind, "due_at": timer.due_at,
                            "task_id": timer.attached_to, "task_name": task.name if task else None})
                if len(out) >= limit:
                    break
        return out

    def visible_variables(self, definition: ProcessDefinition, roles) -> set[str]:
        """Case variables a non-staff user may read, as the diagram draws it: the engine's own variables,
        the fields of forms in the lanes of their roles, and what tasks share with their roles
        (``shareWith``: the task's form fields, plus ``shareVariables`` for script/rule outputs)."""
        import json

        key = (definition.id, frozenset(roles))
        cached = self._visibility.get(key)
        if cached is not None:
            return cached
        spec, subs = self._specs_for(definition)
        visible = set(ENGINE_VARIABLES)
        for sp in [spec, *subs.values()]:
            for ts in sp.task_specs.values():
                props = properties(ts)
                shared = {r.strip() for r in props.get("shareWith", "").split(",") if r.strip()}
                mine = (getattr(ts, "manual", False) and ts.lane in roles) or bool(shared & set(roles))
                if not mine:
                    continue
                form = props.get("formJsonSchemaFilename")
                if form and form in definition.files:
                    visible |= set(json.loads(definition.files[form]).get("properties", {}))
                if shared & set(roles):
                    visible |= {v.strip() for v in props.get("shareVariables", "").split(",") if v.strip()}
        self._visibility[key] = visible
        return visible

    def _timer_spec(self, definition: ProcessDefinition, element_id: str):
        spec, subs = self._specs_for(definition)
        for sp in [spec, *subs.values()]:
            ts = sp.task_specs.get(element_id)
            if ts is not None:
                return ts
        return None

    def history(self, case_id: str) -> list[dict]:
        with self.db.read() as s:
            if s.get(Case, case_id) is None:
                raise NotFound(f"case {case_id} does not exist", case_id=case_id)
            return [history.as_dict(e) for e in
                    s.scalars(sa.select(Event).where(Event.case_id == case_id).order_by(Event.seq))]

    # ------------------------------------------------------------------ internals
    def _latest_definition(self, s: Session, key: str) -> ProcessDefinition | None:
        return s.scalar(sa.select(ProcessDefinition).where(ProcessDefinition.key == key)
                        .order_by(ProcessDefinition.version.desc()).limit(1))

    def _specs_for(self, definition: ProcessDefinition):
        with self._specs_lock:
            cached = self._specs.get(definition.id)
            if cached is None:
                cached = self._specs[definition.id] = self.serializer.load_specs(definition.spec)
            return cached

    def _new_workflow(self, definition: ProcessDefinition) -> BpmnWorkflow:
        spec, subs = self._specs_for(definition)
        return BpmnWorkflow(spec, subs, script_engine=self.script_engine)

    def _deserialize(self, row: Case) -> BpmnWorkflow:
        spec, subs = self._specs_for(row.definition)
        return self.serializer.load_state(row.state, spec, subs, self.script_engine)

    def _check_may_start(self, definition: ProcessDefinition, actor: Actor, organisation_id: str | None):
        spec, _ = self._specs_for(definition)
        lanes = {s.lane for s in spec.bpmn_start_events}
        role = next(iter(lanes)) if len(lanes) == 1 and None not in lanes else "coordinator"
        if not actor.has_role(role):
            raise Forbidden(f"only the role '{role}' may start a '{definition.key}' case", role=role)
        if role == "applicant" and actor.organisation_id != organisation_id:
            raise Forbidden("applicants may start cases only for their own organisation")

    def _check_may_complete(self, s: Session, loaded: _Loaded, task, ref: HumanTask, actor: Actor) -> str:
        role = task.task_spec.lane
        if role is None or not actor.has_role(role):
            raise Forbidden(f"task '{ref.name or ref.element_id}' is for the role '{role}'", role=role)
        if role == "applicant" and actor.organisation_id != loaded.row.organisation_id:
            raise Forbidden("this task belongs to another organisation's case")
        if ref.claimed_by and ref.claimed_by != actor.username:
            raise Conflict(f"task '{ref.name or ref.element_id}' is claimed by {ref.claimed_by}",
                           claimed_by=ref.claimed_by)
        if ref.assignee and ref.assignee != actor.username:
            raise Forbidden(f"task '{ref.name or ref.element_id}' is assigned to another user",
                            assignee=ref.assignee)
        separate = [x.strip() for x in properties(task.task_spec).get("separateFrom", "").split(",") if x.strip()]
        if separate:
            done_before = s.scalar(sa.select(sa.func.count(Event.id)).where(
                Event.case_id == loaded.row.id, Event.action == "task.completed",
                Event.actor == actor.username, Event.element_id.in_(separate)))
            if done_before:
                raise Forbidden(f"separation of duties: {actor.username} completed {', '.join(separate)} "
                                f"in this case and may not complete '{ref.name or ref.element_id}'")
        return role


class _Operation:
    """One transaction's work across one or more cases (a message may start or wake other cases)."""

    def __init__(self, engine: Engine, session: Session, actor: Actor):
        self.engine, self.s, self.actor = engine, session, actor
        self.loaded: dict[str, _Loaded] = {}
        self.dirty: dict[str, None] = {}  # cases run in this operation and not yet saved (ordered)
        self.cascade = 0

    # -- loading and starting ----------------------------------------------------------------------
    def load(self, case_id: str) -> _Loaded:
        if case_id in self.loaded:
            return self.loaded[case_id]
        stmt = sa.select(Case).where(Case.id == case_id)
        if not self.engine.db.is_sqlite:
            stmt = stmt.with_for_update(of=Case)
        row = self.s.scalar(stmt)
        if row is None:
            raise NotFound(f"case {case_id} does not exist", case_id=case_id)
        wf = self.engine._deserialize(row)
        loaded = self.loaded[case_id] = _Loaded(row, wf, row.definition)
        return loaded

    def start(self, definition: ProcessDefinition, organisation_id, data, business_key, parent_case_id) -> str:
        case_id = str(uuid.uuid4())
        now = utcnow()
        business_key = business_key or f"{definition.key.upper()}-{now:%Y%m%d}-{case_id[:8]}"
        wf = self.engine._new_workflow(definition)
        row = Case(id=case_id, definition_id=definition.id, process_key=definition.key,
                   organisation_id=organisation_id, business_key=business_key, parent_case_id=parent_case_id,
                   status="running", outcome=None, state="", started_by=self.actor.username,
                   created_at=now, updated_at=now, ended_at=None)
        row.definition = definition
        self.s.add(row)
        self.s.flush()  # the row must exist before history and index rows point at it
        loaded = self.loaded[case_id] = _Loaded(row, wf, definition)
        loaded.next_seq = 1
        engine_vars = {"case_id": case_id, "organisation_id": organisation_id, "business_key": business_key,
                       "started_at": now.isoformat(), "parent_case_id": parent_case_id}
        history.record(self.s, loaded, self.actor, "case.started", data={
            "process_key": definition.key, "version": definition.version, "organisation_id": organisation_id,
            "business_key": business_key, "parent_case_id": parent_case_id, "data": data})
        start = wf.task_tree
        start.data.update(engine_vars)
        if definition.start_message is None:
            start.data.update(data)
            self.run(loaded, lambda: None)
        else:
            def deliver():
                wf.do_engine_steps()
                wf.send_event(BpmnEvent(MessageEventDefinition(definition.start_message), dict(data)))
            self.run(loaded, deliver)
        return case_id

    # -- acting ------------------------------------------------------------------------------------
    def run(self, loaded: _Loaded, action) -> None:
        """Run ``action`` then engine steps, repeating timer refresh until nothing more fires (cycle timers
        fire at most once per refresh). Any failure becomes a ProcessError naming the element."""
        wf = loaded.wf
        self.dirty[loaded.row.id] = None
        try:
            action()
            for _ in range(1000):
                before = snapshot(wf)
                wf.refresh_timers()
                wf.do_engine_steps()
                if snapshot(wf) == before:
                    break
        except (SandboxViolation, ScriptTimeout) as exc:
            raise ProcessError(str(exc), case_id=loaded.row.id) from exc
        except SpiffWorkflowException as exc:
            raise _process_error(exc, loaded.row.id) from exc

    def record_completion(self, loaded: _Loaded, task, role: str, data: dict, old: dict,
                          signature: dict | None = None) -> None:
        changes = {k: {"old": old.get(k), "new": v} for k, v in data.items() if old.get(k) != v}
        recorded = {"submitted": data, "changes": changes}
        # the "why": a form field named reason / *_reason (e.g. the committee's decision_reason)
        reasons = {k: v for k, v in data.items() if (k == "reason" or k.endswith("_reason")) and v}
        if reasons:
            recorded["reason"] = "; ".join(str(v) for v in reasons.values())
        if signature is not None:
            recorded["signature"] = signature
        history.record(self.s, loaded, self.actor, "task.completed", task=task, role=role, data=recorded)

    def route(self, name: str, payload: dict, *, organisation_id, case_id, parent: _Loaded | None,
              allow_start: bool = True) -> list[str]:
        """Send a message to the cases waiting for it (by case id or organisation), else start the
        process that a message start event of this name begins. Returns the receiving case ids."""
        self.cascade += 1
        if self.cascade > MAX_CASCADE:
            raise ProcessError(f"message cascade longer than {MAX_CASCADE} (a diagram loop?) at '{name}'")
        stmt = sa.select(MessageSubscription.case_id).where(MessageSubscription.name == name)
        if case_id:
            stmt = stmt.where(MessageSubscription.case_id == case_id)
        elif organisation_id is not None:
            stmt = stmt.where(MessageSubscription.organisation_id == organisation_id)
        else:
            stmt = stmt.where(sa.false())
        waiting = [c for c in dict.fromkeys(self.s.scalars(stmt)) if parent is None or c != parent.row.id]
        receivers = []
        for target_id in waiting:
            target = self.load(target_id)
            if target.row.status != "running":
                continue
            self.run(target, lambda: target.wf.send_event(BpmnEvent(MessageEventDefinition(name), payload)))
            history.record(self.s, target, self.actor, "message.received",
                           data={"message": name, "payload": payload,
                                 "from_case_id": parent.row.id if parent else None})
            receivers.append(target_id)
        if receivers or not allow_start:
            return receivers
        if not name:
            return []
        starter = self.s.scalar(sa.select(ProcessDefinition).where(ProcessDefinition.start_message == name)
                                .order_by(ProcessDefinition.version.desc()).limit(1))
        if starter is None:
            return []
        org = parent.row.organisation_id if parent else organisation_id
        new_id = self.start(starter, org, payload, None, parent_case_id=parent.row.id if parent else case_id)
        if parent is not None:
            history.record(self.s, parent, self.actor, "case.linked_started",
                           data={"message": name, "case_id": new_id, "process_key": starter.key})
        return [new_id]

    # -- persisting --------------------------------------------------------------------------------
    def finish(self) -> None:
        """Route thrown messages, then persist every touched case: history diff, indexes, state."""
        while self.dirty:
            case_id = next(iter(self.dirty))
            del self.dirty[case_id]
            loaded = self.loaded[case_id]
            for event in loaded.wf.get_events():
                # only messages leave a case; a terminate end event (also reported here) must not be routed
                if not isinstance(event.event_definition, MessageEventDefinition) or not event.event_definition.name:
                    continue
                self.route(event.event_definition.name, dict(event.payload or {}),
                           organisation_id=loaded.row.organisation_id, case_id=None, parent=loaded)
            self._save(loaded)  # a case woken again by the cascade is simply saved again
        try:
            self.s.flush()
        except StaleDataError as exc:
            raise Conflict("the case was changed by someone else meanwhile; reload and try again") from exc

    def _save(self, loaded: _Loaded) -> None:
        wf, row, now = loaded.wf, loaded.row, utcnow()
        history.record_diff(self.s, loaded, self.actor, snapshot(wf))
        timers, messages = pending_events(wf)
        ready = ready_human_tasks(wf)
        self._notify_fired(loaded, now)
        self._write_inbox(loaded, ready, timers, now)
        self.s.execute(sa.delete(Timer).where(Timer.case_id == row.id))
        self.s.execute(sa.delete(MessageSubscription).where(MessageSubscription.case_id == row.id))
        for t in timers:
            self.s.add(Timer(case_id=row.id, task_id=str(t.task.id), element_id=t.task.task_spec.bpmn_id,
                             name=t.task.task_spec.bpmn_name, kind=t.kind, due_at=t.due_at,
                             attached_to=str(t.attached_to.id) if t.attached_to is not None else None,
                             interrupting=t.interrupting))
        for m in messages:
            self.s.add(MessageSubscription(case_id=row.id, organisation_id=row.organisation_id,
                                           task_id=str(m.task.id), element_id=m.task.task_spec.bpmn_id, name=m.name))
        if wf.completed and row.status == "running":
            row.status, row.outcome, row.ended_at = "completed", end_event_reached(wf), now
            history.record(self.s, loaded, self.actor, "case.ended", data={"outcome": row.outcome})
        row.state = self.engine.serializer.dump_state(wf)
        row.updated_at = now

    def _notify_fired(self, loaded: _Loaded, now) -> None:
        """A timer on a person's task fired (reminder or deadline): put a notification in the outbox for
        whoever holds the task (claimer, else diagram assignee, else everyone with the role)."""
        from .models import Notification

        row = loaded.row
        for timer in self.s.scalars(sa.select(Timer).where(Timer.case_id == row.id, Timer.attached_to.isnot(None))):
            task = loaded.wf.get_task_from_id(uuid.UUID(timer.task_id))
            if task is None or task.state != TaskState.COMPLETED:
                continue
            human = self.s.get(HumanTask, timer.attached_to)
            if human is None:
                continue
            recipient = human.claimed_by or human.assignee or f"role:{human.role}"
            kind = "deadline" if timer.interrupting else "reminder"
            self.s.add(Notification(
                case_id=row.id, task_id=human.id, organisation_id=row.organisation_id, recipient=recipient,
                kind=kind, created_at=now,
                subject=f"{timer.name or 'Timer'}: {human.name or human.element_id} ({row.business_key})",
                body=(f"The task '{human.name or human.element_id}' of case {row.business_key} "
                      f"{'reached its deadline' if timer.interrupting else 'is waiting for you'} "
                      f"(due {human.due_at.isoformat() if human.due_at else 'now'}).")))

    def _write_inbox(self, loaded: _Loaded, ready, timers, now) -> None:
        row = loaded.row
        existing = {h.id: h for h in self.s.scalars(
            sa.select(HumanTask).where(HumanTask.case_id == row.id, HumanTask.status == "ready"))}
        for task in ready:
            tid = str(task.id)
            props = properties(task.task_spec)
            h = existing.pop(tid, None)
            if h is None:
                h = HumanTask(id=tid, case_id=row.id, organisation_id=row.organisation_id,
                              process_key=task.workflow.spec.name, element_id=task.task_spec.bpmn_id,
                              name=task.task_spec.bpmn_name, role=task.task_spec.lane, status="ready",
                              created_at=now, form=props.get("formJsonSchemaFilename"),
                              ui_form=props.get("formUiSchemaFilename"),
                              signature_meaning=props.get("signatureMeaning"))
                h.assignee = self._assignee(loaded, task, props)
                h.priority = int(props.get("priority", 0) or 0)
                self.s.add(h)
            due = due_date(task, timers)
            if due is not None:  # a fired escalation timer leaves the task overdue, not undated
                h.due_at = due
        for h in existing.values():  # no longer ready: completed by this operation, or cancelled
            task = loaded.wf.get_task_from_id(uuid.UUID(h.id))
            h.status = "completed" if task is not None and task.state == TaskState.COMPLETED else "cancelled"
            h.completed_at = now
            if h.status == "completed":
                h.completed_by = self.actor.username

    def _assignee(self, loaded: _Loaded, task, props) -> str | None:
        expr = props.get("assignee")
        if not expr:
            return None
        try:
            value = self.engine.script_engine.evaluate(task, expr)
        except Exception as exc:
            raise _process_error(exc, loaded.row.id, f"assignee expression '{expr}' failed") from exc
        return str(value) if value else None


# -- module helpers ----------------------------------------------------------------------------------

def _latest_data(wf) -> dict:
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


def _public_data(data: dict) -> dict:
    return {k: v for k, v in data.items() if not k.startswith("_")}


def _form_schema(definition: ProcessDefinition, form: str | None) -> dict | None:
    import json

    if not form:
        return None
    text = definition.files.get(form)
    if text is None:
        raise ProcessError(f"form '{form}' is not part of definition {definition.key} v{definition.version}")
    return json.loads(text)


def _format_checker(session: Session | None) -> jsonschema.FormatChecker:
    """Standard formats (date, …) plus ``user:<role>``: the value must be the username of an active user
    holding that role — so a form cannot assign an inspection to someone who cannot do it."""
    from .actors import ROLES
    from .models import User, UserRole

    checker = jsonschema.FormatChecker()
    if session is None:
        return checker
    for role in ROLES:
        def holds(value, role=role):
            if not isinstance(value, str):
                return True
            return bool(session.scalar(sa.select(sa.func.count(User.id)).join(UserRole).where(
                User.username == value, User.active.is_(True), UserRole.role == role)))
        checker.checks(f"user:{role}")(holds)
    return checker


def _validate_form(definition: ProcessDefinition, form: str | None, data: dict, task, session=None) -> None:
    label = task.task_spec.bpmn_name or task.task_spec.bpmn_id
    schema = _form_schema(definition, form)
    if schema is None:
        if data:
            raise InvalidFormData(f"task '{label}' takes no data",
                                  [{"field": f"/{k}", "message": "unexpected field"} for k in data])
        return
    validator = jsonschema.Draft202012Validator(schema, format_checker=_format_checker(session))
    errors = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = "/" + "/".join(str(p) for p in err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            for missing in err.validator_value:
                if missing not in err.instance:
                    errors.append({"field": path.rstrip("/") + "/" + missing, "message": "is required"})
            continue
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            for extra in err.instance:
                if extra not in allowed:
                    errors.append({"field": path.rstrip("/") + "/" + extra, "message": "is not a field of this form"})
            continue
        if err.validator == "format" and str(err.validator_value).startswith("user:"):
            role = str(err.validator_value)[5:]
            errors.append({"field": path, "message": f"no active user '{err.instance}' holds the role {role}"})
            continue
        errors.append({"field": path, "message": err.message})
    if errors:
        raise InvalidFormData(f"the data for task '{label}' does not satisfy its form ({form})", errors, form=form)


def _attachment_refs(value, path=""):
    """(json pointer, sha256) of every attachment id in form data: any field whose name mentions
    'attachment' holding a SHA-256 string or a list of them."""
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{path}/{k}"
            if "attachment" in k and isinstance(v, str):
                yield p, v
            elif "attachment" in k and isinstance(v, list):
                yield from ((f"{p}/{i}", x) for i, x in enumerate(v) if isinstance(x, str))
            else:
                yield from _attachment_refs(v, p)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _attachment_refs(v, f"{path}/{i}")


def _check_attachments(s: Session, case_id: str, data: dict) -> None:
    from .models import Attachment

    refs = list(_attachment_refs(data))
    if not refs:
        return
    known = set(s.scalars(sa.select(Attachment.sha256).where(Attachment.case_id == case_id,
                                                             Attachment.sha256.in_({r for _, r in refs}))))
    errors = [{"field": p, "message": "no attachment with this id was uploaded to this case"}
              for p, r in refs if r not in known]
    if errors:
        raise InvalidFormData("the form refers to files that are not attached to this case", errors)


def _process_error(exc: Exception, case_id: str, prefix: str | None = None) -> ProcessError:
    """Turn a SpiffWorkflow failure into a ProcessError naming the element, line and sandbox refusal."""
    task = getattr(exc, "task", None)
    spec = getattr(task, "task_spec", None)
    inner, seen = exc, set()
    while inner is not None and id(inner) not in seen and not isinstance(inner, (SandboxViolation, ScriptTimeout)):
        seen.add(id(inner))
        inner = inner.__cause__ or inner.__context__
    message = str(inner) if inner is not None else str(exc).splitlines()[0]
    if prefix:
        message = f"{prefix}: {message}"
    details = {"case_id": case_id}
    if spec is not None and getattr(spec, "bpmn_id", None):
        details.update(element_id=spec.bpmn_id, element_name=spec.bpmn_name)
    if getattr(exc, "line_number", None):
        details["line"] = exc.line_number
    if inner is not None:
        details["sandbox"] = type(inner).__name__
    return ProcessError(message, **details)
