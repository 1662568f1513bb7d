"""The case history: an append-only event log, computed by diffing task states around each engine call.

SpiffWorkflow keeps only ``last_state_change`` per task, so the engine records what happened itself: the
acting user's submission (with old and new values), and every element that became ready, completed,
fired or was cancelled as a consequence, attributed to the operation's actor.
"""
from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.util.task import TaskState

from . import chain, checkpoints
from engine.storage.models import Event, utcnow
from engine.workflow.workflow_state import all_tasks, element_type, is_visible

_LIVE = (TaskState.READY, TaskState.WAITING, TaskState.STARTED)


#: PostgreSQL advisory lock serialising writers of the system chain (case chains are serialised by the
#: case row lock and the unique (case_id, seq) constraint; NULL case ids escape that constraint)
SYSTEM_CHAIN_LOCK = 0x61756469  # "audi"


def _next_link(s, loaded) -> tuple[int, str | None]:
    """(seq, prev_hash) of the case's next event: read from the table once per operation, then tracked on
    ``loaded`` (``next_seq`` and ``chain_head``)."""
    if loaded.next_seq is None:
        last = s.execute(sa.select(Event.seq, Event.hash).where(Event.case_id == loaded.row.id)
                         .order_by(Event.seq.desc()).limit(1)).first()
        loaded.next_seq = (last.seq if last else 0) + 1
        loaded.chain_head = last.hash if last else None
    seq = loaded.next_seq
    loaded.next_seq += 1
    return seq, loaded.chain_head


def record(s, loaded, actor, action, *, task=None, role=None, data=None, element=None) -> dict:
    """Append an event to the case's chain (hash computed now, in order). A case loaded by an
    :class:`~engine.cases.operation.Operation` collects its events in ``loaded.pending_events`` and the operation
    writes them all in one INSERT (:func:`write_events`) when it persists; any other caller's event is written
    at once. Returns the event's column values."""
    spec = task.task_spec if task is not None else element
    seq, prev_hash = _next_link(s, loaded)
    event = dict(case_id=loaded.row.id, seq=seq, occurred_at=utcnow(), actor=actor.username,
                 actor_name=actor.printed_name, role=role, action=action,
                 element_id=getattr(spec, "bpmn_id", None), element_name=getattr(spec, "bpmn_name", None),
                 element_type=element_type(spec) if spec is not None else None,
                 task_id=str(task.id) if task is not None else None, data=jsonable(data), prev_hash=prev_hash)
    event["hash"] = loaded.chain_head = chain.event_hash(SimpleNamespace(**event))
    pending = getattr(loaded, "pending_events", None)
    if pending is None:
        write_events(s, [event])
    else:
        pending.append(event)
    checkpoints.note(s, loaded.row.id)
    return event


_INSERT_EVENTS = Event.__table__.insert()


def write_events(s, events: list[dict]) -> None:
    """Insert event rows (column values from :func:`record`) in one statement (Core, on the session's
    connection: no ORM unit of work, no ORM statement handling)."""
    if events:
        s.connection().execute(_INSERT_EVENTS, events)


def record_system(s, actor_name: str, action: str, data: dict | None = None) -> Event:
    if s.get_bind().dialect.name == "postgresql":
        s.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYSTEM_CHAIN_LOCK})
    last = s.execute(sa.select(Event.seq, Event.hash).where(Event.case_id.is_(None))
                     .order_by(Event.seq.desc()).limit(1)).first()
    event = Event(case_id=None, seq=(last.seq if last else 0) + 1, occurred_at=utcnow(), actor=actor_name,
                  actor_name=actor_name, action=action, data=jsonable(data), prev_hash=last.hash if last else None)
    event.hash = chain.event_hash(event)
    s.add(event)
    checkpoints.note(s, None)
    return event


def record_diff(s, loaded, actor, after: dict) -> None:
    """Record every visible state change since ``loaded.before``, then move the baseline."""
    before = loaded.before
    tasks = {t.id: t for t in all_tasks(loaded.wf) if is_visible(t)}
    changed = [tasks[i] for i, state in after.items() if before.get(i) != state and i in tasks]
    changed.sort(key=lambda t: t.last_state_change or 0)
    for task in changed:
        spec, state, was = task.task_spec, task.state, before.get(task.id)
        definition = getattr(spec, "event_definition", None)
        if state == TaskState.READY and spec.manual:
            record(s, loaded, actor, "task.ready", task=task, role=spec.lane)
        elif state == TaskState.COMPLETED and not spec.manual:
            if isinstance(definition, TimerEventDefinition):
                action = "timer.fired"
            elif isinstance(definition, MessageEventDefinition):
                action = "message.thrown" if "Throw" in element_type(spec) or "End" in element_type(spec) \
                    else "message.caught"
            else:
                action = "element.completed"
            data = {"message": definition.name} if isinstance(definition, MessageEventDefinition) else None
            values = computed_values(task)
            if values:
                data = {**(data or {}), "values": values}
            record(s, loaded, actor, action, task=task, data=data)
        elif state == TaskState.CANCELLED and was in _LIVE:
            record(s, loaded, actor, "element.cancelled", task=task)
        elif state == TaskState.ERROR:
            record(s, loaded, actor, "element.error", task=task)
    loaded.before = after


#: elements whose outputs are decisions of the engine (scripts, DMN rules): their values go on the record
COMPUTING = ("ScriptTask", "BusinessRuleTask")


def computed_values(task) -> dict | None:
    """What a script or business rule task set or changed (e.g. the certificate number, the award and
    expiry dates, the surveillance interval), compared with the data it started from."""
    if element_type(task.task_spec) not in COMPUTING:
        return None
    before = task.parent.data if task.parent is not None else {}
    missing = object()
    return {k: v for k, v in task.data.items() if before.get(k, missing) != v} or None


def outcomes(events: list[dict]) -> dict:
    """The values the engine computed in a case, latest first wins: ``{name: {"value", "element_id",
    "element_name", "seq", "at"}}`` from the ``values`` of completed script / rule steps."""
    out: dict[str, dict] = {}
    for e in events:
        data = e.get("data")
        if e.get("action") != "element.completed" or not isinstance(data, dict) or not isinstance(data.get("values"), dict):
            continue
        for name, value in data["values"].items():
            out[name] = {"value": value, "element_id": e.get("element_id"), "element_name": e.get("element_name"),
                         "seq": e.get("seq"), "at": e.get("occurred_at")}
    return out


def as_dict(e: Event) -> dict:
    return {"seq": e.seq, "occurred_at": e.occurred_at.isoformat(), "actor": e.actor, "actor_name": e.actor_name,
            "role": e.role, "action": e.action, "element_id": e.element_id, "element_name": e.element_name,
            "element_type": e.element_type, "task_id": e.task_id, "data": e.data, "prev_hash": e.prev_hash,
            "hash": e.hash}


def jsonable(value):
    """History data must be plain JSON (dates as ISO strings; a NaN or infinite number as the string of its JSON
    token, which PostgreSQL's JSON columns would refuse)."""
    import json
    from datetime import date, datetime
    from decimal import Decimal

    def default(o):
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        if isinstance(o, Decimal):
            return str(o)
        return repr(o)

    return None if value is None else json.loads(json.dumps(value, default=default), parse_constant=str)
