"""One transaction's work on one or more cases: load (locked), act, route thrown messages, persist.

load → check → act → persist (state, inbox, timers, message subscriptions, notifications, history). On any
error the caller's transaction rolls back and the in-memory workflows are thrown away.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition  # spiff class: equality is by class
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import caseteam, indexes, rows
from engine.records import history
from engine.workflow import pruning, stepping
from engine.actors import Actor
from engine.errors import Conflict, NotFound, ProcessError
from engine.storage.db import VALIDATORS
from engine.storage.models import Case, Event, HumanTask, MessageSubscription, ProcessDefinition, utcnow
from engine.sandbox import SandboxViolation, ScriptTimeout
from engine.workflow.workflow_state import (
    all_tasks,
    due_date,
    end_event_reached,
    pending_events,
    properties,
    ready_human_tasks,
    snapshot,
)
from engine.vocabulary import ASSIGNEE, FORM, PRIORITY, SIGNATURE_MEANING, UI_FORM


if TYPE_CHECKING:
    from .services import Engine

#: PostgreSQL channel on which committed operations tell standalone schedulers to re-arm
TIMERS_CHANNEL = "accredit_timers"
#: a message cascade (case throws → starts/wakes case → throws …) longer than this is a diagram loop
MAX_CASCADE = 50

# statements of the hot path, built once: a case row by id or by one of its human tasks — on SQLite with the
# (seq, hash) head of its history chain (BEGIN IMMEDIATE has serialised the writers already), on PostgreSQL
# locked and without it (subqueries would read the snapshot taken *before* waiting for the lock: the head is
# read after it, by history._next_link); the case's ready inbox rows and one task's row
_HEAD = sa.select(Event.seq, Event.hash).where(Event.case_id == Case.id).order_by(Event.seq.desc()).limit(1)
_BY_ID = Case.id == sa.bindparam("case_id")
_OF_TASK = Case.id == sa.select(HumanTask.case_id).where(HumanTask.id == sa.bindparam("task_id")).scalar_subquery()
_WITH_HEAD = sa.select(Case, _HEAD.with_only_columns(Event.seq).scalar_subquery(),
                       _HEAD.with_only_columns(Event.hash).scalar_subquery())
_LOCKED = sa.select(Case).with_for_update(of=Case)
_CASE_BY_ID = {"sqlite": _WITH_HEAD.where(_BY_ID), "locked": _LOCKED.where(_BY_ID),
               "skip_locked": sa.select(Case).with_for_update(of=Case, skip_locked=True).where(_BY_ID)}
_CASE_OF_TASK = {"sqlite": _WITH_HEAD.where(_OF_TASK), "locked": _LOCKED.where(_OF_TASK)}
_STILL_AS_READ = ('SELECT version, (SELECT seq FROM event WHERE case_id = ? ORDER BY seq DESC LIMIT 1) '
                  'FROM "case" WHERE id = ?')  # Operation._unchanged_since_read
_ASSIGNEE_MAX = HumanTask.__table__.c.assignee.type.length
_READY_ROWS = sa.select(HumanTask).where(HumanTask.case_id == sa.bindparam("case_id"), HumanTask.status == "ready")
_READY_ROWS_AND_TASK = sa.select(HumanTask).where(
    HumanTask.case_id == sa.bindparam("case_id"),
    sa.or_(HumanTask.status == "ready", HumanTask.id == sa.bindparam("task_id")))


class Loaded:
    """A case in the middle of an operation: its row, its live workflow and the 'before' snapshot."""

    def __init__(self, row: Case, wf: BpmnWorkflow, definition: ProcessDefinition):
        self.row, self.wf, self.definition = row, wf, definition
        self.before = snapshot(wf)
        self.next_seq: int | None = None  # history sequence, read lazily from the event table
        self.chain_head: str | None = None  # hash of the case's last event (with next_seq)
        # what its timer and message_subscription rows hold now: a save writes only the difference to it
        self.timer_rows, self.message_rows = indexes.index_rows(row, wf)
        self.ready_rows: list[HumanTask] | None = None  # the case's ready inbox rows after the last save
        self.pending_events: list[dict] = []  # history recorded, not yet written (Operation.finish writes it)
        self.as_read: tuple[int, int] | None = None  # SQLite: (version, last event seq) as loaded


class Operation:
    """One transaction's work across one or more cases (a message may start or wake other cases)."""

    def __init__(self, engine: Engine, session: Session, actor: Actor):
        self.engine, self.s, self.actor = engine, session, actor
        self.loaded: dict[str, Loaded] = {}
        self.dirty: dict[str, None] = {}  # cases run in this operation and not yet saved (ordered)
        self.cascade = 0
        self.timers_touched = False  # a timer row added or removed: schedulers must re-arm
        if (validators := session.info.get(VALIDATORS)) is not None:  # a read-first write: check what was read
            validators.append(self._unchanged_since_read)

    def _unchanged_since_read(self, dbapi_conn) -> bool:
        """Called once the write lock is held: is every case loaded so far as it was read (the same ``version``
        and the same last event)? Every change to a case, its inbox, its team, comments and attachments appends
        to the case's history chain, so the chain's head stands for all that the checks read of the case."""
        for loaded in self.loaded.values():
            now = dbapi_conn.execute(_STILL_AS_READ, (loaded.row.id, loaded.row.id)).fetchone()
            if now is None or (now[0], now[1] or 0) != loaded.as_read:
                return False
        return True

    # -- loading and starting ----------------------------------------------------------------------
    def load(self, case_id: str, *, skip_locked: bool = False) -> Loaded | None:
        """The case, locked for this transaction. ``skip_locked`` (the timer drain): on PostgreSQL a case
        another transaction holds is skipped instead of waited for — None, as for a case that does not exist."""
        if case_id in self.loaded:
            return self.loaded[case_id]
        loaded = self._load_case(_CASE_BY_ID, {"case_id": case_id}, skip_locked=skip_locked)
        if loaded is None:
            if skip_locked:
                return None
            raise NotFound(f"case {case_id} does not exist", case_id=case_id)
        return loaded

    def load_for_task(self, task_id: str) -> tuple[Loaded, HumanTask] | None:
        """The case of human task ``task_id`` (locked, loaded) and the task's inbox row, else None. Two
        statements, both after the lock: the case row with its history head, then the case's ready inbox rows
        with the task's own (kept as ``ready_rows``: saving does not read them again)."""
        loaded = self._load_case(_CASE_OF_TASK, {"task_id": task_id})
        if loaded is None:
            return None
        rows = self.s.scalars(_READY_ROWS_AND_TASK, {"case_id": loaded.row.id, "task_id": task_id}).all()
        loaded.ready_rows = [r for r in rows if r.status == "ready"]
        ref = next((r for r in rows if r.id == task_id), None)
        return (loaded, ref) if ref is not None else None

    def _load_case(self, statements: dict, params: dict, skip_locked: bool = False) -> Loaded | None:
        """Load one case row: on SQLite in one statement with the (seq, hash) head of its history chain; on
        PostgreSQL locked, the head then read after the lock when history is first recorded."""
        sqlite = self.engine.db.is_sqlite
        kind = "sqlite" if sqlite else ("skip_locked" if skip_locked else "locked")
        found = self.s.execute(statements[kind], params).first()
        if found is None:
            return None
        row = found[0]
        if row.id in self.loaded:
            return self.loaded[row.id]
        wf = self.engine.specs.restore(row)
        loaded = self.loaded[row.id] = Loaded(row, wf, row.definition)
        if sqlite:
            head_seq, head_hash = found[1], found[2]
            loaded.next_seq, loaded.chain_head = (head_seq or 0) + 1, head_hash
            loaded.as_read = (row.version, head_seq or 0)
        return loaded

    def start(self, definition: ProcessDefinition, organisation_id, data, business_key, parent_case_id) -> str:
        case_id = str(uuid.uuid4())
        now = utcnow()
        business_key = business_key or f"{definition.key.upper()}-{now:%Y%m%d}-{case_id[:8]}"
        wf = self.engine.specs.new_workflow(definition)
        row = Case(id=case_id, definition_id=definition.id, process_key=definition.key,
                   organisation_id=organisation_id, business_key=business_key, parent_case_id=parent_case_id,
                   status="running", outcome=None, state="", started_by=self.actor.username,
                   created_at=now, updated_at=now, ended_at=None)
        row.definition = definition
        self.s.add(row)
        self.s.flush()  # the row must exist before history and index rows point at it
        loaded = self.loaded[case_id] = Loaded(row, wf, definition)
        loaded.next_seq, loaded.chain_head = 1, None  # a new chain
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
                stepping.do_engine_steps(wf)
                wf.send_event(BpmnEvent(MessageEventDefinition(definition.start_message), dict(data)))
            self.run(loaded, deliver)
        return case_id

    # -- acting ------------------------------------------------------------------------------------
    def run(self, loaded: Loaded, action) -> None:
        """Run ``action`` then engine steps, repeating timer refresh until nothing more fires (cycle timers
        fire at most once per refresh). Any failure becomes a ProcessError naming the element."""
        wf = loaded.wf
        self.dirty[loaded.row.id] = None
        try:
            action()
            stepping.advance(wf)  # the library's own stepping stalls in deep trees (engine/workflow/stepping.py)
        except (SandboxViolation, ScriptTimeout) as exc:
            raise ProcessError(str(exc), case_id=loaded.row.id) from exc
        except stepping.StepLimit as exc:
            spec = exc.task.task_spec
            raise ProcessError(str(exc), case_id=loaded.row.id, element_id=spec.bpmn_id,
                               element_name=spec.bpmn_name) from exc
        except SpiffWorkflowException as exc:
            raise process_error(exc, loaded.row.id) from exc

    def record_completion(self, loaded: Loaded, task, role: str, data: dict, old: dict,
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

    def route(self, name: str, payload: dict, *, organisation_id, case_id, parent: Loaded | None,
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
        if parent is not None:
            return [self.start_linked(starter, payload, parent)]
        return [self.start(starter, organisation_id, payload, None, parent_case_id=case_id)]

    def start_linked(self, starter: ProcessDefinition, payload: dict, parent: Loaded) -> str:
        """Start ``starter`` (a process a message starts) as a case linked to ``parent``: the parent's
        organisation, ``parent_case_id``, and ``case.linked_started`` in the parent's history. The one path
        for a message a case throws and for a person's linked start (:mod:`engine.cases.linking`)."""
        new_id = self.start(starter, parent.row.organisation_id, payload, None, parent_case_id=parent.row.id)
        history.record(self.s, parent, self.actor, "case.linked_started",
                       data={"message": starter.start_message, "case_id": new_id, "process_key": starter.key})
        return new_id

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
        events = [e for loaded in self.loaded.values() for e in loaded.pending_events]
        history.write_events(self.s, events)  # every case's new history in one INSERT
        for loaded in self.loaded.values():
            loaded.pending_events = []
        if self.timers_touched and not self.engine.db.is_sqlite:
            # delivered at commit to every `accredit scheduler` listening: the timers changed
            self.s.execute(sa.text(f"NOTIFY {TIMERS_CHANNEL}"))

    def _save(self, loaded: Loaded) -> None:
        self.s.flush()  # what this operation wrote before is visible to the reads of the save ...
        with self.s.no_autoflush:  # ... and what the save writes goes out in one flush (finish), not four
            self._save_case(loaded)

    def _save_case(self, loaded: Loaded) -> None:
        """Compute the step's history, inbox, timers and state first, then write them: on SQLite the write lock
        is taken at the first write (Database.write_read_first), so what is computed before runs unlocked."""
        wf, row, now = loaded.wf, loaded.row, utcnow()
        before = loaded.before
        history.record_diff(self.s, loaded, self.actor, snapshot(wf))
        caseteam.update(self, loaded, before)  # who is on the case, as the diagram declares it
        pending = pending_events(wf)  # once per save: the inbox's due dates and the index rows
        timers = pending[0]
        ready = ready_human_tasks(wf)
        existing = self._ready_rows(loaded)  # read once; notify_fired then finds its tasks in the identity map
        indexes.notify_fired(self.s, loaded, now)  # writes only when a reminder or deadline fired
        inbox = self._plan_inbox(loaded, ready, timers, now, existing)
        status, outcome, ended_at = row.status, row.outcome, row.ended_at
        if wf.completed and status == "running":
            status, outcome, ended_at = "completed", end_event_reached(wf), now
            history.record(self.s, loaded, self.actor, "case.ended", data={"outcome": outcome})
        pruning.prune(wf)  # after the history diff and the inbox plan: only the finished past no longer read
        state = self.engine.serializer.dump_state(wf)
        self._write_inbox(loaded, *inbox)
        self.timers_touched |= indexes.write_index_rows(self.s, loaded, pending)
        rows.update_case(self.s, row, state=state, status=status, outcome=outcome, ended_at=ended_at,
                         updated_at=now)

    def _ready_rows(self, loaded: Loaded) -> dict[str, HumanTask]:
        """The case's ready inbox rows before this save writes the inbox: as the load kept them (a completion
        reads them with its task), else read once here."""
        if loaded.ready_rows is None:
            loaded.ready_rows = list(self.s.scalars(_READY_ROWS, {"case_id": loaded.row.id}))
        return {h.id: h for h in loaded.ready_rows}

    def _plan_inbox(self, loaded: Loaded, ready, timers, now, existing: dict[str, HumanTask]):
        """The inbox rows after this step: (new ready rows, changed due dates, rows no longer ready, rows kept)."""
        row = loaded.row
        kept, new, due_changed = [], [], []
        for task in ready:
            tid = str(task.id)
            h = existing.pop(tid, None)
            due = due_date(task, timers)
            if h is None:
                props = properties(task.task_spec)
                h = rows.new_task(id=tid, case_id=row.id, organisation_id=row.organisation_id,
                                  process_key=task.workflow.spec.name, element_id=task.task_spec.bpmn_id,
                                  name=task.task_spec.bpmn_name, role=task.task_spec.lane, status="ready",
                                  created_at=now, form=props.get(FORM), ui_form=props.get(UI_FORM),
                                  signature_meaning=props.get(SIGNATURE_MEANING),
                                  assignee=self.assignee_for(loaded, task, props),
                                  priority=int(props.get(PRIORITY, 0) or 0), due_at=due)
                new.append(h)
            elif due is not None and due != h.due_at:  # a fired escalation timer leaves the task overdue
                due_changed.append((h, due))
            kept.append(h)
        closed = []
        for h in existing.values():  # no longer ready: completed by this operation, or cancelled
            task = loaded.wf.get_task_from_id(uuid.UUID(h.id))
            done = task is not None and task.state == TaskState.COMPLETED
            closed.append((h, "completed" if done else "cancelled", now, self.actor.username if done else None))
        return new, due_changed, closed, kept

    def _write_inbox(self, loaded: Loaded, new, due_changed, closed, kept) -> None:
        """The planned inbox rows as Core statements (:mod:`engine.cases.rows`); the objects kept in step."""
        rows.insert_tasks(self.s, new)
        rows.set_due(self.s, due_changed)
        rows.close_tasks(self.s, closed)
        loaded.ready_rows = [h for h in kept if h.status == "ready"]

    def assignee_for(self, loaded: Loaded, task, props) -> str | None:
        expr = props.get(ASSIGNEE)
        if not expr:
            return None
        try:
            value = self.engine.script_engine.evaluate(task, expr)
        except Exception as exc:
            raise process_error(exc, loaded.row.id, f"assignee expression '{expr}' failed") from exc
        value = str(value) if value else None
        if value is not None and len(value) > _ASSIGNEE_MAX:  # not a username; PostgreSQL would refuse the row
            raise ProcessError(f"assignee expression '{expr[:80]}' gave {len(value):,} characters, not a username",
                               case_id=loaded.row.id, element_id=task.task_spec.bpmn_id)
        return value


# -- module helpers ----------------------------------------------------------------------------------

def process_error(exc: Exception, case_id: str, prefix: str | None = None) -> ProcessError:
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
