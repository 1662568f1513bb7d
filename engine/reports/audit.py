"""What auditors and inspectors read: a case's history (filtered, paginated), the per-element view, the
signatures, the verification of the hash chain, and exports (CSV, JSON; the PDF is engine.reports.audit_pdf).

Reading never changes a record. Every case-scoped call applies the visibility rules of :mod:`engine.users.access`
(auditors, like other staff, see every case); exports are themselves system events (who took a copy).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from engine.records import chain, checkpoints, history
from engine.users import redaction
from engine.users.access import case_visible, sees_all_cases
from engine.actors import Actor
from engine.storage.db import Database
from engine.errors import InvalidFormData, NotFound
from engine.storage.models import Case, Event, HumanTask, Timer, utcnow
from engine.records.signatures import binding_digest

#: events that finish an element, and who finished it
COMPLETING = ("task.completed", "element.completed", "timer.fired", "message.thrown", "message.caught")
EXPORT_FORMATS = ("csv", "json")
CSV_COLUMNS = ("seq", "occurred_at", "actor", "actor_name", "role", "action", "element_id", "element_name",
               "element_type", "task_id", "reason", "signature", "changes", "data", "prev_hash", "hash")


@dataclass
class HistoryPage:
    items: list[dict]
    total: int
    page: int
    per_page: int


# -- verification ---------------------------------------------------------------------------------------

def verify_chain(db: Database, case_id: str | None = None, anchor: dict | None = None) -> dict:
    """Recompute the hash chain of one case (or, with ``case_id`` None, of the system events).

    Returns ``{"ok", "checked", "first_broken": {"seq", "reason"} | None, "head": {"seq", "hash"} | None}``.
    Detects an edited payload or an edited hash (the content no longer hashes to the stored value), deleted
    rows (a gap in ``seq``, or a ``prev_hash`` that no longer links), reordered rows (``seq`` is hashed, and
    ``prev_hash`` stops linking), and a signature whose binding no longer matches the data it signed.
    ``anchor`` ({"seq", "hash"}, e.g. the head printed on an earlier export) must still be in the chain: that
    catches a rewrite of the chain's end by someone who recomputed every hash after it; so does, with no
    anchor, the signed checkpoint of the chain when an audit key is configured (:mod:`engine.records.checkpoints`)."""
    with db.read() as s:
        where = Event.case_id.is_(None) if case_id is None else Event.case_id == case_id
        rows = s.scalars(sa.select(Event).where(where).order_by(Event.seq, Event.id)).all()
        result = _verify(rows, case_id, anchor)
        result["chain_ok"] = result["ok"]  # the hash links alone, before the signed checkpoint
        result["checkpoint"], problem = checkpoints.check(s, case_id, rows)
        if problem and result["ok"]:
            result["ok"], result["first_broken"] = False, problem
        return result


def _verify(rows, case_id, anchor=None) -> dict:
    broken = None
    prev_hash, expected = None, 1
    anchored = anchor is None
    for e in rows:
        reason = None
        if e.seq != expected:
            reason = (f"sequence gap: expected seq {expected}, found {e.seq} (events deleted?)" if e.seq > expected
                      else f"seq {e.seq} appears twice or out of order (events inserted or reordered?)")
        elif e.prev_hash != prev_hash:
            reason = ("prev_hash does not link to the preceding event (events deleted, inserted or reordered?)"
                      if expected > 1 else "the first event of a chain must have no prev_hash")
        elif not e.hash:
            reason = "the event has no hash"
        elif chain.event_hash(e) != e.hash:
            reason = "the event's content does not match its hash (content or hash edited)"
        elif _signature_mismatch(e, case_id):
            reason = "the signature's binding does not match the signed data"
        if reason and broken is None:
            broken = {"seq": e.seq, "reason": reason}
        if anchor is not None and e.seq == anchor.get("seq"):
            anchored = e.hash == anchor.get("hash")
        prev_hash = e.hash
        expected = max(expected, e.seq) + 1
    if broken is None and not anchored:
        broken = {"seq": anchor.get("seq"), "reason": "the anchored event is missing or its hash differs "
                                                      "(the chain was rewritten after the anchor)"}
    head = {"seq": rows[-1].seq, "hash": rows[-1].hash} if rows else None
    return {"case_id": case_id, "ok": broken is None, "checked": len(rows), "first_broken": broken, "head": head}


def _signature_mismatch(e: Event, case_id: str | None) -> bool:
    sig = (e.data or {}).get("signature") if e.action == "task.completed" and isinstance(e.data, dict) else None
    if not sig:
        return False
    return sig.get("data_sha256") != binding_digest(case_id, e.task_id, e.element_id, e.data.get("submitted") or {})


def verify_all(db: Database) -> dict:
    """Every chain: the system events and each case. ``ok`` only if all are."""
    with db.read() as s:
        case_ids = list(s.scalars(sa.select(Case.id).order_by(Case.created_at, Case.id)))
    results = [verify_chain(db, None)] + [verify_chain(db, c) for c in case_ids]
    return {"ok": all(r["ok"] for r in results), "chains": results}


# -- reading --------------------------------------------------------------------------------------------

def signature_view(e: Event) -> dict | None:
    sig = (e.data or {}).get("signature") if isinstance(e.data, dict) else None
    if e.action != "task.completed" or not sig:
        return None
    return {**sig, "seq": e.seq, "task_id": e.task_id, "role": e.role, "event_hash": e.hash,
            "binding_ok": not _signature_mismatch(e, e.case_id)}


def event_query(where, *, action: str | None = None, user: str | None = None, role: str | None = None,
                element_id: str | None = None, since: datetime | None = None, until: datetime | None = None):
    """The one history query (the audit API, the exports' readers and the audit console): the events of one
    chain (``where``: a case's, or the system's) matching the filters. ``action`` may list several
    (comma-separated) and end in ``*`` for a prefix (``task.*``); ``user`` is the acting username; ``since``
    inclusive, ``until`` exclusive (an empty range is a 422 on ``/until``)."""
    if since is not None and until is not None and until <= since:
        raise InvalidFormData("the time range is empty", [{"field": "/until", "message": "must be after since"}])
    stmt = sa.select(Event).where(where)
    if action:
        clauses = [Event.action.startswith(a[:-1], autoescape=True) if a.endswith("*") else Event.action == a
                   for a in (x.strip() for x in action.split(",")) if a]
        if clauses:
            stmt = stmt.where(sa.or_(*clauses))
    if user:
        stmt = stmt.where(Event.actor == user)
    if role:
        stmt = stmt.where(Event.role == role)
    if element_id:
        stmt = stmt.where(Event.element_id == element_id)
    if since is not None:
        stmt = stmt.where(Event.occurred_at >= since)
    if until is not None:
        stmt = stmt.where(Event.occurred_at < until)
    return stmt


def event_page(s, stmt, page: int, per_page: int, redact) -> tuple[list[dict], int]:
    """(one page of ``stmt``'s events in ``seq`` order as the reader may see them (``redact``), the total)."""
    total = s.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
    rows = s.scalars(stmt.order_by(Event.seq).offset((page - 1) * per_page).limit(per_page)).all()
    return [redact(history.as_dict(e)) for e in rows], total


class Audit:
    """Read side of the event log for one database. ``actor`` None = a trusted caller (the CLI)."""

    def __init__(self, db: Database, identity=None, engine=None):
        self.db, self.identity, self.engine = db, identity, engine

    def redactor(self, actor: Actor | None, case: Case):
        """What ``actor`` may read of the case's events: :class:`engine.users.redaction.Redactor` (one allow-list
        per event type; staff see everything; the stored events and their hashes are never touched)."""
        return redaction.Redactor(self.engine, case.definition, actor).event

    def _case(self, s, actor: Actor | None, case_id: str) -> Case:
        row = s.get(Case, case_id)
        if row is None or (actor is not None and not case_visible(s, actor, row)):
            raise NotFound(f"case {case_id} does not exist", case_id=case_id)
        return row

    def history(self, actor: Actor | None, case_id: str, *, action: str | None = None, user: str | None = None,
                element_id: str | None = None, since: datetime | None = None, until: datetime | None = None,
                page: int = 1, per_page: int = 500) -> HistoryPage:
        """Events of a case in order. ``action`` may list several (comma-separated) and end in ``*`` for a
        prefix (``task.*``); ``user`` is the acting username; ``since`` inclusive, ``until`` exclusive."""
        stmt = event_query(Event.case_id == case_id, action=action, user=user, element_id=element_id,
                           since=since, until=until)
        with self.db.read() as s:
            redact = self.redactor(actor, self._case(s, actor, case_id))
            items, total = event_page(s, stmt, page, per_page, redact)
            return HistoryPage(items, total, page, per_page)

    def events(self, actor: Actor | None, case_id: str) -> list[Event]:
        with self.db.read() as s:
            self._case(s, actor, case_id)
            return list(s.scalars(sa.select(Event).where(Event.case_id == case_id).order_by(Event.seq)))

    def elements(self, actor: Actor | None, case_id: str) -> list[dict]:
        """Per BPMN element (for the diagram overlay): its state now (active, completed, cancelled, error),
        how often it completed, when, and by whom (for automatic elements: the actor of the operation that
        ran them)."""
        return element_states(self.events(actor, case_id))

    def signatures(self, actor: Actor | None, case_id: str) -> list[dict]:
        return [v for v in map(signature_view, self.events(actor, case_id)) if v is not None]

    def verify(self, actor: Actor | None, case_id: str) -> dict:
        with self.db.read() as s:
            self._case(s, actor, case_id)
        return verify_chain(self.db, case_id)

    def summary(self, actor: Actor | None, case_id: str) -> dict:
        with self.db.read() as s:
            r = self._case(s, actor, case_id)
            return {"id": r.id, "business_key": r.business_key, "process_key": r.process_key,
                    "process_name": r.definition.name, "definition_version": r.definition.version,
                    "organisation_id": r.organisation_id, "status": r.status, "outcome": r.outcome,
                    "parent_case_id": r.parent_case_id, "started_by": r.started_by,
                    "created_at": r.created_at.isoformat(), "ended_at": r.ended_at.isoformat() if r.ended_at else None}

    # -- exports ------------------------------------------------------------------------------------------
    def record(self, actor: Actor | None, case_id: str) -> dict:
        """Everything an inspector receives: summary, verification, signatures, every event with its hashes."""
        events = self.events(actor, case_id)
        with self.db.read() as s:
            redact = self.redactor(actor, self._case(s, actor, case_id))
            waiting = _waiting_for(s, case_id)
        shown = [redact(history.as_dict(e)) for e in events]
        summary = {**self.summary(actor, case_id), "outcomes": history.outcomes(shown), "waiting_for": waiting}
        return {"case": summary, "verification": verify_chain(self.db, case_id),
                "signatures": [v for v in map(signature_view, events) if v is not None],
                "events": shown,
                "exported_at": chain.iso_utc(utcnow()), "exported_by": actor.username if actor else "system"}

    def export(self, actor: Actor | None, case_id: str, fmt: str) -> tuple[bytes, str, str]:
        """(content, mimetype, filename) of the history as ``csv`` or ``json``; the export is a system event."""
        if fmt not in EXPORT_FORMATS:
            raise InvalidFormData(f"unknown export format '{fmt}'",
                                  [{"field": "/format", "message": f"one of {', '.join(EXPORT_FORMATS)}"}])
        record = self.record(actor, case_id)
        name = _filename(record["case"]["business_key"])
        self._exported(actor, case_id, fmt, record)
        if fmt == "json":
            return (json.dumps(record, indent=2, ensure_ascii=False).encode("utf-8"), "application/json",
                    f"{name}-history.json")
        return to_csv(record["events"]).encode("utf-8"), "text/csv", f"{name}-history.csv"

    def pdf(self, actor: Actor | None, case_id: str) -> tuple[bytes, str]:
        from .audit_pdf import render

        record = self.record(actor, case_id)
        self._exported(actor, case_id, "pdf", record)
        return render(record), f"{_filename(record['case']['business_key'])}-record.pdf"

    def _exported(self, actor, case_id, fmt, record) -> None:
        if self.identity is None:
            return
        head = record["verification"]["head"]
        self.identity.record_system_event(actor.username if actor else "system", "record.exported", {
            "case_id": case_id, "format": fmt, "events": len(record["events"]),
            "chain_ok": record["verification"]["ok"], "head_hash": head["hash"] if head else None})


def element_states(events) -> list[dict]:
    """Per BPMN element of these events (in seq order): its state now (active, completed, cancelled, error,
    seen), how often it completed, when, and by whom. Shared by the audit view and the case diagrams
    (:mod:`engine.cases.diagram`, which passes the events of one process)."""
    out: dict[str, dict] = {}
    task_state: dict[str, tuple[str, str]] = {}  # task id -> (element id, last state)
    for e in events:
        if not e.element_id:
            continue
        el = out.setdefault(e.element_id, {
            "element_id": e.element_id, "element_name": e.element_name, "element_type": e.element_type,
            "state": None, "active": 0, "times_completed": 0, "first_completed_at": None,
            "last_completed_at": None, "completions": [], "first_seq": e.seq, "last_seq": e.seq})
        el["last_seq"] = e.seq
        if e.action == "task.ready":
            task_state[e.task_id] = (e.element_id, "ready")
        elif e.action in COMPLETING:
            task_state[e.task_id] = (e.element_id, "completed")
            at = e.occurred_at.isoformat()
            el["times_completed"] += 1
            el["first_completed_at"] = el["first_completed_at"] or at
            el["last_completed_at"] = at
            sig = signature_view(e)
            el["completions"].append({"seq": e.seq, "at": at, "actor": e.actor, "actor_name": e.actor_name,
                                      "role": e.role, "action": e.action, "task_id": e.task_id,
                                      "signature_meaning": sig["meaning"] if sig else None})
        elif e.action == "element.cancelled":
            task_state[e.task_id] = (e.element_id, "cancelled")
        elif e.action == "element.error":
            task_state[e.task_id] = (e.element_id, "error")
    states_of: dict[str, set[str]] = {}
    for element_id, state in task_state.values():
        states_of.setdefault(element_id, set()).add(state)
        if state == "ready":
            out[element_id]["active"] += 1
    for el in out.values():
        states = states_of.get(el["element_id"], set())
        el["state"] = ("error" if "error" in states else "active" if el["active"] else
                       "completed" if el["times_completed"] else "cancelled" if "cancelled" in states
                       else "seen")
    return sorted(out.values(), key=lambda x: x["first_seq"])


def _waiting_for(s, case_id: str) -> list[dict]:
    """What a running case waits for now: people's tasks and timers (names and due times, no values)."""
    tasks = list(s.scalars(sa.select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "ready")
                           .order_by(HumanTask.created_at, HumanTask.id)))
    task_ids = {t.id for t in tasks}
    out = [{"kind": "task", "name": t.name or t.element_id, "element_id": t.element_id, "role": t.role,
            "due_at": chain.iso_utc(t.due_at) if t.due_at else None}
           for t in tasks]
    out += [{"kind": "timer", "name": t.name or t.element_id, "element_id": t.element_id, "role": None,
             "due_at": chain.iso_utc(t.due_at)}
            for t in s.scalars(sa.select(Timer).where(Timer.case_id == case_id).order_by(Timer.due_at, Timer.id))
            if t.attached_to not in task_ids]  # a task's own deadlines are its due time
    return out


def signature_text(sig: dict | None) -> str:
    if not sig:
        return ""
    return (f"{sig['meaning']} by {sig['printed_name']} ({sig['username']}) at {sig['signed_at']}; "
            f"data sha256 {sig['data_sha256']}")


def to_csv(events: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for e in events:
        data = e.get("data") if isinstance(e.get("data"), dict) else {}
        row = {k: e.get(k) for k in CSV_COLUMNS if k in e}
        row["reason"] = data.get("reason", "")
        row["signature"] = signature_text(data.get("signature")) if e["action"] == "task.completed" else ""
        row["changes"] = json.dumps(data.get("changes"), ensure_ascii=False, sort_keys=True) if "changes" in data \
            else ""
        row["data"] = json.dumps(e.get("data"), ensure_ascii=False, sort_keys=True) if e.get("data") is not None \
            else ""
        writer.writerow({k: ("" if v is None else _csv_safe(v)) for k, v in row.items()})
    return buf.getvalue()


def _csv_safe(value):
    """Spreadsheets run cells that start with = + - @ as formulas; such text gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _filename(business_key: str) -> str:
    """The business key as a file name: letters and digits of any script kept, anything else (separators,
    quotes, control characters) an underscore. The HTTP layer encodes it per RFC 6266."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in business_key)[:120].strip(".") or "case"
