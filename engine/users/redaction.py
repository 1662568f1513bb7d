"""One redactor: what a laboratory (applicant) or an inspector may read of a case, wherever a value appears.

Staff (coordinator, committee, auditor, quality manager, admin) read everything. Everyone else reads only
what the case's diagram shares with their roles — the engine's own variables, the fields of the forms in
their lanes, and what tasks share with them (``shareWith`` / ``shareVariables``; see
:meth:`engine.definitions.specs.SpecCache.visible_variables`) — minus the variables a diagram declares staff-only on
any of its tasks (``staffOnlyVariables``, e.g. conflict-of-interest details, which an inspector enters in
a form of their own lane and which other inspectors and the laboratory must still never read).

History events are filtered by an **allow-list per event type**: each known action names the keys of its
``data`` a non-staff reader may see (variable-bearing parts are further cut to the visible variables); an
unknown action, or an unknown key of a known one, is dropped — a new kind of event never leaks by default.
A redacted event carries ``data.redacted = true``. The stored events (and their hashes) are never touched.

Every read path uses this module: case data (:func:`allowed_variables`), the history, the CSV / JSON / PDF
exports (:mod:`engine.reports.audit`), and notifications (:func:`notifications_for`).
"""
from __future__ import annotations

import sqlalchemy as sa

from .access import sees_all_cases, visible_cases
from engine.actors import Actor
from engine.storage.models import Case, Notification, ProcessDefinition

#: keys of the event data a non-staff reader may see, by action. ``None`` as a value: the key is kept as
#: it is; a callable: the value is filtered (gets the set of allowed variables).
_PLAIN = None


def _vars(value, allowed):
    """A dict of variables cut to the allowed ones (anything else: dropped)."""
    if not isinstance(value, dict):
        return None
    return {k: v for k, v in value.items() if k in allowed}


def _changes(value, allowed):
    return _vars(value, allowed)


ALLOW: dict[str, dict] = {
    "case.started": {"process_key": _PLAIN, "version": _PLAIN, "organisation_id": _PLAIN,
                     "business_key": _PLAIN, "parent_case_id": _PLAIN, "data": _vars},
    "case.ended": {"outcome": _PLAIN},
    "case.migrated": {"process_key": _PLAIN, "from_version": _PLAIN, "to_version": _PLAIN},
    "case.linked_started": {"message": _PLAIN, "process_key": _PLAIN},
    "task.ready": {},
    "task.completed": {"submitted": _vars, "changes": _changes, "signature": _PLAIN, "reason": _PLAIN},
    "task.claimed": {"task_id": _PLAIN, "element_id": _PLAIN},
    "task.unclaimed": {"task_id": _PLAIN, "element_id": _PLAIN},
    "task.assigned": {"task_id": _PLAIN, "element_id": _PLAIN},
    "element.completed": {"values": _vars},
    "element.cancelled": {},
    "element.error": {},
    "timer.fired": {},
    "message.thrown": {"message": _PLAIN},
    "message.caught": {"message": _PLAIN},
    "message.received": {"message": _PLAIN},  # the payload lands in a variable; shown there if shared
    "comment.added": {"comment_id": _PLAIN, "task_id": _PLAIN, "body": _PLAIN, "internal": _PLAIN},
    "attachment.uploaded": {"sha256": _PLAIN, "filename": _PLAIN, "content_type": _PLAIN, "size": _PLAIN},
}


def is_staff(actor: Actor | None) -> bool:
    """``None`` is a trusted caller (the CLI, the engine itself)."""
    return actor is None or sees_all_cases(actor)


def allowed_variables(engine, definition: ProcessDefinition, actor: Actor | None) -> set[str] | None:
    """The case variables ``actor`` may read (``None``: everything, for staff)."""
    if is_staff(actor):
        return None
    specs = engine.specs
    return set(specs.visible_variables(definition, actor.roles)) - specs.staff_only_variables(definition)


def case_data(engine, definition: ProcessDefinition, actor: Actor | None, data: dict) -> dict:
    allowed = allowed_variables(engine, definition, actor)
    return dict(data) if allowed is None else {k: v for k, v in data.items() if k in allowed}


class Redactor:
    """Applies the allow-list to the events of one case as one viewer sees them."""

    def __init__(self, engine, definition: ProcessDefinition, actor: Actor | None):
        self.allowed = None if engine is None else allowed_variables(engine, definition, actor)
        if engine is None and not is_staff(actor):
            self.allowed = set()  # no diagram to ask: nothing beyond the plain allow-list
        self.start_message = definition.start_message

    @property
    def everything(self) -> bool:
        return self.allowed is None

    def event(self, event: dict) -> dict:
        if self.allowed is None:
            return event
        data = event.get("data")
        action = event.get("action")
        rules = ALLOW.get(action)
        if rules is None:  # unknown kind of event: nothing of its data
            return {**event, "data": {"redacted": True} if data is not None else None}
        if not isinstance(data, dict):
            return {**event, "data": None}
        if action == "comment.added" and data.get("internal"):
            return {**event, "data": {"internal": True, "redacted": True}}
        if action == "case.started" and self.start_message and data.get("data"):
            # the start data of a message-started case is the message payload: not shown (it lands in a
            # variable, visible there if the diagram shares it)
            data = {k: v for k, v in data.items() if k != "data"}
            data["redacted"] = True
        kept, redacted = {}, bool(data.get("redacted"))
        for key, value in data.items():
            if key == "redacted":
                continue
            if key not in rules:
                redacted = True
                continue
            rule = rules[key]
            if rule is None:
                kept[key] = value
                continue
            cut = rule(value, self.allowed)
            if cut is None or (isinstance(value, dict) and len(cut) != len(value)):
                redacted = True
            if cut is not None:
                kept[key] = cut
        if action == "task.completed" and redacted:
            # the "why" is drawn from form fields; shown only when every field it came from is visible
            reasons = {k: v for k, v in (data.get("submitted") or {}).items()
                       if (k == "reason" or k.endswith("_reason")) and v}
            if any(k not in self.allowed for k in reasons):
                kept.pop("reason", None)
            if isinstance(kept.get("signature"), dict):
                kept["signature"] = {k: v for k, v in kept["signature"].items() if k != "data_sha256"}
        if redacted:
            kept["redacted"] = True
        return {**event, "data": kept}

    def events(self, events: list[dict]) -> list[dict]:
        return [self.event(e) for e in events]


def notifications_for(db, actor: Actor, limit: int = 200) -> list[dict]:
    """Reminders and deadline notices for ``actor`` (as a person, or for a role they hold), only of cases
    they may see: an inspector is not told about the cases of an inspection team they are not on, a
    laboratory about another laboratory's."""
    recipients = [actor.username] + [f"role:{r}" for r in sorted(actor.roles)]
    stmt = sa.select(Notification).where(Notification.recipient.in_(recipients))
    if not sees_all_cases(actor):
        stmt = stmt.where(Notification.case_id.in_(sa.select(Case.id).where(visible_cases(actor))))
    with db.read() as s:
        rows = s.scalars(stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
        return [{c: getattr(n, c) for c in _NOTIFICATION_FIELDS} for n in rows]


_NOTIFICATION_FIELDS = ("id", "case_id", "task_id", "recipient", "kind", "subject", "body", "created_at", "sent_at")
