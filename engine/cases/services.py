"""The engine's service API: every call is one database transaction.

load → check → act → persist (state, inbox, timers, message subscriptions, history) → commit. On any error
the transaction rolls back and the in-memory workflow is thrown away, so the database and the next load are
exactly as before. The HTTP layer, the scheduler and the tests all go through :class:`Engine`.
"""
from __future__ import annotations

import functools
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.records import history, signatures
from . import linking, timers
from engine.users import redaction
from engine.definitions import starting
from engine.actors import SYSTEM, Actor
from engine.storage.db import Database
from engine.errors import Conflict, EngineError, Forbidden, InvalidFormData, NotFound
from engine.definitions.library import Library, load_library
from engine.storage.models import Case, Event, HumanTask, ProcessDefinition, Timer, utcnow
from engine.sandbox import make_script_engine
from engine.workflow.serialization import StateSerializer
from engine.definitions.specs import ENGINE_VARIABLES, SpecCache
from engine.workflow.workflow_state import find_task, latest_data, properties, public_data
from engine.users.access import inspector_on_case, may_act, sees_all_cases, sees_case
from engine.definitions.forms import check_attachments, validate_form
from .operation import MAX_CASCADE, Loaded, Operation, process_error  # noqa: F401
from .views import CaseView, DeployResult, TaskView  # noqa: F401
from engine.vocabulary import APPLICANT, COORDINATOR, SCHEDULE_KIND, SEPARATE_FROM, SIGNATURE_MEANING


class Engine:
    def __init__(self, db: Database, *, script_time_limit: float = 2.0):
        self.db = db
        self.serializer = StateSerializer()
        self.script_engine = make_script_engine(time_limit=script_time_limit)
        self.specs = SpecCache(db, self.serializer, self.script_engine)
        self._timer_listeners: list = []
        self.failed_timer_cases: list[str] = []  # cases whose due timers failed in the last firing

    def on_timers_changed(self, listener) -> None:
        """Call ``listener()`` after every committed operation that may have changed the pending timers
        (the embedded scheduler re-arms its wake-up with it)."""
        self._timer_listeners.append(listener)

    def timers_changed(self) -> None:
        """Tell the listeners (:meth:`on_timers_changed`) that a committed operation may have changed the timers."""
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
        """Deploy a whole bundle in the name of ``deployed_by`` (set-up code and tests): the one deployment
        path, :meth:`engine.cases.deployment.Deployment.deploy_as` — each process whose content changed becomes a
        new immutable version, recorded in the system history."""
        from .deployment import Deployment

        report = Deployment(self).deploy_as(files, deployed_by, note)
        deployed = [{k: d[k] for k in ("key", "version", "created")} for d in report["deploy"]]
        return DeployResult({k: report[k] for k in ("valid", "errors", "warnings", "processes")}, deployed)

    def definitions(self) -> list[dict]:
        with self.db.read() as s:
            rows = s.scalars(sa.select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version))
            return [{"key": r.key, "name": r.name, "version": r.version, "content_hash": r.content_hash,
                     "start_message": r.start_message, "deployed_by": r.deployed_by, "deployed_at": r.deployed_at}
                    for r in rows]

    # ------------------------------------------------------------------ cases
    def start_case(self, process_key: str, actor: Actor, organisation_id: str | None,
                   data: dict | None = None, business_key: str | None = None, *,
                   viewer: Actor | None = None, declared: bool = False) -> CaseView:
        """Start a case of the latest version of ``process_key``; returns it as ``viewer`` may see it (default:
        unfiltered), built inside the same transaction.

        Who may start it is drawn in the diagram: the lane of the start event names the role (applicants
        only for their own organisation). ``declared``: a person's start, held to what the diagram declares
        (:mod:`engine.definitions.starting`: the start form, ``calledOnly``, an existing organisation).
        """
        data = _no_engine_variables(data, "starting data")
        with self.db.write() as s:
            definition = self.specs.latest(s, process_key)
            if definition is None:
                raise NotFound(f"no process '{process_key}' is deployed", process_key=process_key)
            self._check_may_start(definition, actor, organisation_id)
            if declared:
                starting.check_declared_start(self, s, definition, organisation_id, data)
            ops = Operation(self, s, actor)
            case_id = ops.start(definition, organisation_id, data, business_key, parent_case_id=None)
            ops.finish()
            loaded = ops.loaded[case_id]
            view = self.case_view(s, loaded.row, loaded.wf, viewer, loaded.ready_rows)
        self.timers_changed()
        return view

    def start_linked_case(self, process_key: str, actor: Actor, organisation_id: str, data: dict, *,
                          parent_case_id: str | None = None, viewer: Actor | None = None) -> CaseView:
        """Start a case of ``process_key`` (a process a message starts, e.g. a surveillance audit) linked to
        the organisation's case whose diagram starts such cases now — exactly as that case would start it:
        the same link payload, parent and history (:mod:`engine.cases.linking`), with ``data`` on top (e.g. the
        audit type and reason). 422 naming the organisation when it has no such case; the start lane's role
        is checked as for any start."""
        with self.db.write() as s:
            starting.check_organisation(s, organisation_id)
            definition = self.specs.latest(s, process_key)
            if definition is None:
                raise NotFound(f"no process '{process_key}' is deployed", process_key=process_key)
            self._check_may_start(definition, actor, organisation_id)
            row, link = linking.find_parent(self, s, definition, organisation_id, parent_case_id)
            ops = Operation(self, s, actor)
            case_id = ops.start_linked(definition, {**link, **data}, ops.load(row.id))
            ops.finish()
            loaded = ops.loaded[case_id]
            view = self.case_view(s, loaded.row, loaded.wf, viewer, loaded.ready_rows)
        self.timers_changed()
        return view

    def get_case(self, case_id: str, with_data: bool = True) -> CaseView:
        with self.db.read() as s:
            row = s.get(Case, case_id)
            if row is None:
                raise NotFound(f"case {case_id} does not exist", case_id=case_id)
            return self.case_view(s, row, self.specs.restore(row) if with_data else None, None)

    def case_view(self, s: Session, row: Case, wf: BpmnWorkflow | None, viewer: Actor | None,
                  ready: list[HumanTask] | None = None) -> CaseView:
        """A case as ``viewer`` may see it — built from the row, the inbox index (``ready``: its ready rows,
        if the caller has them) and the in-memory workflow (never deserialised again): staff (or
        ``viewer=None``) see every ready task and every variable; others only the tasks they may act on and the
        variables the diagram shares with their roles."""
        if ready is None:
            ready = s.scalars(sa.select(HumanTask).where(HumanTask.case_id == row.id,
                                                         HumanTask.status == "ready")).all()
        tasks = sorted(ready, key=lambda t: (t.created_at, t.element_id))
        limited = viewer is not None and not sees_all_cases(viewer)
        if limited:
            on_case = functools.cache(lambda: inspector_on_case(s, viewer, row.id))
            tasks = [t for t in tasks if may_act(viewer, t, on_case)]
        view = CaseView(row.id, row.process_key, row.definition.version, row.organisation_id, row.business_key,
                        row.status, row.outcome, row.parent_case_id, row.created_at, row.ended_at,
                        [TaskView.of(t) for t in tasks])
        if wf is not None:
            data = public_data(latest_data(wf))
            view.data = redaction.case_data(self, row.definition, viewer, data) if limited else data
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

    def task_form(self, task_id: str, s: Session | None = None, *, with_data: bool = True) -> dict:
        """The form of a task as the definition version of its case has it: JSON Schema, optional UI schema,
        and (``with_data``) the task's current values of the form's fields (for re-display and corrections)."""
        if s is None:
            with self.db.read() as session:
                return self.task_form(task_id, session, with_data=with_data)
        row = s.get(HumanTask, task_id)
        if row is None:
            raise NotFound(f"task {task_id} does not exist", task_id=task_id)
        case = s.get(Case, row.case_id)
        schema = self.specs.form_schema(case.definition, row.form)
        ui = self.specs.form_schema(case.definition, row.ui_form)
        data = {}
        if schema is not None and row.status == "ready" and with_data:
            task = find_task(self.specs.restore(case), task_id)
            fields = set(schema.get("properties", {}))
            data = {k: v for k, v in (task.data if task else {}).items() if k in fields}
        return {"name": row.form, "schema": schema, "ui_schema": ui, "data": history.jsonable(data)}

    def complete_task(self, task_id: str, actor: Actor, data: dict | None = None,
                      signature: dict | None = None, *, viewer: Actor | None = None) -> CaseView:
        """Complete a READY human task as ``actor`` with form ``data`` — checked, run, saved atomically — and
        return the case as ``viewer`` may see it (default: unfiltered), built in the same transaction from the
        workflow already in memory.

        Checks, all inside the transaction: the task exists and its case is visible to the actor (else 404,
        never 403: a laboratory must not learn another's task ids), it is ready (409), the actor may act on it
        (lane role, organisation, assignee, claim, inspector scope, separation of duties: 403).

        A task whose diagram names a ``signatureMeaning`` is an electronic signature and completes only with
        ``signature={"method": "password"[, "meaning": …]}``. Contract: the engine trusts its caller to have
        re-verified the actor's password just before (:meth:`engine.cases.workspace.Workspace.complete` does, with
        :func:`engine.records.signatures.verify_signer`, outside the write transaction); the engine then records printed
        name, username, UTC time, meaning and the SHA-256 binding to ``data`` in the ``task.completed`` event."""
        data = _no_engine_variables(data, "form data")  # whatever the form allows: the case's own facts

        def work(s):
            ops = Operation(self, s, actor)
            found = ops.load_for_task(task_id)
            if found is None:
                raise NotFound(f"task {task_id} does not exist", task_id=task_id)
            loaded, ref = found
            if not sees_case(s, actor, loaded.row):
                raise NotFound(f"task {task_id} does not exist", task_id=task_id)
            if ref.status != "ready":
                raise Conflict(f"task '{ref.name or ref.element_id}' is already {ref.status}",
                               task_id=task_id, status=ref.status)
            task = find_task(loaded.wf, task_id)  # None once completed and pruned
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict("the task is no longer ready (the case moved on)", task_id=task_id)
            role = self._check_may_complete(s, loaded, task, ref, actor)
            if not may_act(actor, ref, lambda: inspector_on_case(s, actor, ref.case_id)):
                raise Forbidden(f"you may not act on task '{ref.name or ref.element_id}' (role {ref.role})",
                                role=ref.role)
            validate_form(self.specs.form_schema(loaded.definition, ref.form), ref.form, data, task, s)
            check_attachments(s, loaded.row.id, data)
            signed = signatures.build(properties(task.task_spec).get(SIGNATURE_MEANING) or ref.signature_meaning,
                                      signature, actor, case_id=loaded.row.id, task_id=task_id,
                                      element_id=ref.element_id, element_name=ref.name, data=data)
            old = {k: task.data.get(k) for k in data}
            task.data.update(data)
            ops.run(loaded, lambda: task.run())
            ops.record_completion(loaded, task, role, data, old, signed)
            ops.finish()
            view = self.case_view(s, loaded.row, loaded.wf, viewer, loaded.ready_rows)
            return view

        view = self.db.write_read_first(work)  # computed unlocked on SQLite, locked to write
        self.timers_changed()
        return view

    def deliver_message(self, name: str, payload: dict | None, actor: Actor = SYSTEM, *,
                        organisation_id: str | None = None, case_id: str | None = None) -> list[str]:
        """Deliver a message from outside to the waiting case(s) it correlates with (by case id, else every
        waiting case of the organisation). Returns the ids of the cases that received it. A message never
        starts a process from outside: that is :meth:`start_case`, with its role check."""
        with self.db.write() as s:
            ops = Operation(self, s, actor)
            targets = ops.route(name, payload or {}, organisation_id=organisation_id, case_id=case_id, parent=None,
                                allow_start=False)
            if not targets:
                where = f"case {case_id}" if case_id else f"organisation {organisation_id}"
                raise NotFound(f"no case of {where} is waiting for message '{name}'", message_name=name)
            ops.finish()
        self.timers_changed()
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
        of their earliest due timer; returns the ids of the cases advanced. Safe to run in several processes at
        once (no timer fires twice); a failing case is recorded (``timer.failed``) and the others go on:
        :mod:`engine.cases.timers`."""
        advanced, self.failed_timer_cases = timers.drain(self, now)
        if advanced:
            self.timers_changed()
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
                spec = self.specs.element(case.definition, timer.element_id)
                props = properties(spec) if spec is not None else {}
                # the person's task the timer sits on; a timer on an activity with no single inbox row (a
                # multi-instance step: one task per person) concerns that activity's open tasks instead
                task = s.get(HumanTask, timer.attached_to) if timer.attached_to else None
                host = None if task is not None or not timer.attached_to else _boundary_host(spec)
                tasks = [task] if task is not None else [] if host is None else list(s.scalars(
                    sa.select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.element_id == host.bpmn_id,
                                               HumanTask.status == "ready").order_by(HumanTask.created_at)))
                if props.get(SCHEDULE_KIND):
                    timer_kind = props[SCHEDULE_KIND]
                elif timer.attached_to:
                    due = tasks[0].due_at if tasks else None
                    timer_kind = "task_deadline" if timer.interrupting or due == timer.due_at else "task_reminder"
                else:
                    timer_kind = "timer"
                if kind and timer_kind != kind:
                    continue
                roles = {t.role for t in tasks}
                out.append({"case_id": case.id, "business_key": case.business_key, "process_key": case.process_key,
                            "organisation_id": case.organisation_id, "element_id": timer.element_id,
                            "name": timer.name, "kind": timer_kind, "due_at": timer.due_at,
                            # task_id only when it opens a task page
                            "task_id": task.id if task is not None else None,
                            "task_name": task.name if task is not None else None,
                            # what the timer is about, in words: the activity, its open tasks and who holds them
                            "activity_name": (tasks[0].name if tasks and tasks[0].name
                                              else (host.bpmn_name or host.bpmn_id) if host is not None else None),
                            "task_count": len(tasks),
                            "role": roles.pop() if len(roles) == 1 else None,
                            "people": sorted({t.claimed_by or t.assignee for t in tasks} - {None})})
                if len(out) >= limit:
                    break
        return out

    def history(self, case_id: str) -> list[dict]:
        with self.db.read() as s:
            if s.get(Case, case_id) is None:
                raise NotFound(f"case {case_id} does not exist", case_id=case_id)
            return [history.as_dict(e) for e in
                    s.scalars(sa.select(Event).where(Event.case_id == case_id).order_by(Event.seq))]

    # ------------------------------------------------------------------ internals
    def _check_may_start(self, definition: ProcessDefinition, actor: Actor, organisation_id: str | None):
        spec, _ = self.specs.of(definition)
        lanes = {s.lane for s in spec.bpmn_start_events}
        role = next(iter(lanes)) if len(lanes) == 1 and None not in lanes else COORDINATOR
        if not actor.has_role(role):
            raise Forbidden(f"only the role '{role}' may start a '{definition.key}' case", role=role)
        if role == APPLICANT and actor.organisation_id != organisation_id:
            raise Forbidden("applicants may start cases only for their own organisation")

    def _check_may_complete(self, s: Session, loaded: Loaded, task, ref: HumanTask, actor: Actor) -> str:
        role = task.task_spec.lane
        if role is None or not actor.has_role(role):
            raise Forbidden(f"task '{ref.name or ref.element_id}' is for the role '{role}'", role=role)
        if role == APPLICANT and actor.organisation_id != loaded.row.organisation_id:
            raise Forbidden("this task belongs to another organisation's case")
        if ref.claimed_by and ref.claimed_by != actor.username:
            raise Conflict(f"task '{ref.name or ref.element_id}' is claimed by {ref.claimed_by}",
                           claimed_by=ref.claimed_by)
        if ref.assignee and ref.assignee != actor.username:
            raise Forbidden(f"task '{ref.name or ref.element_id}' is assigned to another user",
                            assignee=ref.assignee)
        separate = [x.strip() for x in properties(task.task_spec).get(SEPARATE_FROM, "").split(",") if x.strip()]
        if separate:
            done_before = s.scalar(sa.select(sa.func.count(Event.id)).where(
                Event.case_id == loaded.row.id, Event.action == "task.completed",
                Event.actor == actor.username, Event.element_id.in_(separate)))
            if done_before:
                raise Forbidden(f"separation of duties: {actor.username} completed {', '.join(separate)} "
                                f"in this case and may not complete '{ref.name or ref.element_id}'")
        return role


def _boundary_host(spec):
    """The activity a boundary event's spec is attached to (the main child of its boundary split), else None."""
    for split in getattr(spec, "inputs", None) or []:
        if "BoundaryEventSplit" in type(split).__name__:
            return next((o for o in split.outputs if not hasattr(o, "event_definition")), None)
    return None


def _no_engine_variables(data: dict | None, what: str) -> dict:
    """A copy of ``data``; InvalidFormData naming each engine variable (the case's own facts) it would set."""
    clash = sorted(set(data or {}) & set(ENGINE_VARIABLES))
    if clash:
        raise InvalidFormData(f"{what} may not set engine variables",
                              [{"field": f"/{k}", "message": "set by the engine"} for k in clash])
    return dict(data or {})
