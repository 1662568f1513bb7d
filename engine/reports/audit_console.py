"""What the audit console reads: a case's or the system's history with every filter an auditor needs (actor,
role, event type, element, date range) plus the values to offer in those filters, and a verification that
says *what differs* at the first broken link, not only where.

Built on :mod:`engine.reports.audit` (the verdict itself always comes from :func:`engine.reports.audit.verify_chain`, the one
implementation of the chain rules); this module only adds the reading and explaining an auditor's page
needs, so it never disagrees with the CLI or the exports. Reading never changes a record.
"""
from __future__ import annotations

import sqlalchemy as sa

from engine.records import chain, history
from engine.users.access import case_visible
from engine.actors import Actor
from .audit import Audit, event_page, event_query, verify_chain
from engine.storage.db import Database
from engine.errors import Forbidden, InvalidFormData, NotFound
from engine.storage.models import Case, Event
from engine.records.signatures import binding_digest
from engine.vocabulary import ADMIN, AUDITOR

#: who may read the system history (sign-ins and their failures, deployments, account changes, exports)
SYSTEM_HISTORY_ROLES = frozenset({AUDITOR, ADMIN})


def _facets(s, where) -> dict:
    """The distinct values of one chain, to fill the filter pickers (never more than the chain holds)."""
    def distinct(*cols):
        return s.execute(sa.select(*cols).where(where, cols[0].is_not(None)).distinct().order_by(cols[0])).all()

    actors = {}
    for username, name in distinct(Event.actor, Event.actor_name):
        actors.setdefault(username, name)
    elements = {}
    for element_id, name in distinct(Event.element_id, Event.element_name):
        elements.setdefault(element_id, name)
    return {"actors": [{"username": u, "name": n} for u, n in actors.items()],
            "roles": [r for (r,) in distinct(Event.role)],
            "actions": [a for (a,) in distinct(Event.action)],
            "elements": [{"element_id": e, "name": n} for e, n in elements.items()]}


class AuditConsole:
    """Read side of the audit console. Case-scoped reads follow :mod:`engine.users.access` (a case you may not see
    does not exist); laboratories and inspectors get the same redaction as the audit API."""

    def __init__(self, db: Database, identity=None, engine=None):
        self.db = db
        self.audit = Audit(db, identity, engine)

    def _case(self, s, actor: Actor, case_id: str) -> Case:
        row = s.get(Case, case_id)
        if row is None or not case_visible(s, actor, row):
            raise NotFound(f"case {case_id} does not exist", case_id=case_id)
        return row

    @staticmethod
    def _system_reader(actor: Actor) -> None:
        if not actor.roles & SYSTEM_HISTORY_ROLES:
            raise Forbidden("only an auditor or an administrator may read the system history",
                            roles=sorted(SYSTEM_HISTORY_ROLES))

    # -- timelines --------------------------------------------------------------------------------------
    def case_timeline(self, actor: Actor, case_id: str, *, page: int = 1, per_page: int = 200,
                      **filters) -> dict:
        """One page of the case's events matching the filters, the total, and the filter values."""
        with self.db.read() as s:
            row = self._case(s, actor, case_id)
            redact = self.audit.redactor(actor, row)
            where = Event.case_id == case_id
            out = self._page(s, where, filters, page, per_page, redact)
            out["case"] = {"id": row.id, "business_key": row.business_key, "process_key": row.process_key,
                           "process_name": row.definition.name, "definition_version": row.definition.version,
                           "status": row.status, "outcome": row.outcome, "organisation_id": row.organisation_id,
                           "created_at": row.created_at.isoformat()}
            return out

    def system_timeline(self, actor: Actor, *, page: int = 1, per_page: int = 200, **filters) -> dict:
        """One page of the system events (case-independent) matching the filters."""
        self._system_reader(actor)
        with self.db.read() as s:
            return self._page(s, Event.case_id.is_(None), filters, page, per_page, lambda e: e)

    @staticmethod
    def _page(s, where, filters, page, per_page, redact) -> dict:
        stmt = event_query(where, action=filters.get("action"), user=filters.get("user"), role=filters.get("role"),
                           element_id=filters.get("element_id"), since=filters.get("since"),
                           until=filters.get("until"))
        events, total = event_page(s, stmt, page, per_page, redact)
        chain_length = s.scalar(sa.select(sa.func.count(Event.id)).where(where))
        return {"total": total, "chain_length": chain_length, "page": page, "per_page": per_page,
                "total_pages": max(1, -(-total // per_page)), "facets": _facets(s, where), "events": events}

    # -- verification -----------------------------------------------------------------------------------
    def verify_case(self, actor: Actor, case_id: str, anchor: dict | None = None) -> dict:
        with self.db.read() as s:
            self._case(s, actor, case_id)
        return self._explained(case_id, anchor)

    def verify_system(self, actor: Actor, anchor: dict | None = None) -> dict:
        self._system_reader(actor)
        return self._explained(None, anchor)

    def _explained(self, case_id: str | None, anchor: dict | None) -> dict:
        result = verify_chain(self.db, case_id, anchor)
        broken = result["first_broken"]
        if broken is not None and broken.get("seq") is not None:
            with self.db.read() as s:
                broken.update(explain(s, case_id, broken["seq"]))
        return result


def explain(s, case_id: str | None, seq: int) -> dict:
    """What differs at the event ``seq`` of a chain, as ``differs`` = [{field, expected, found, note}], plus
    the stored event itself. The original values of an edited event are gone (only its hash remembers them),
    so the explanation names what no longer agrees: the hash recorded vs the hash of the content as it is
    now, the link to the preceding event, the sequence number, the signature's binding."""
    where = Event.case_id.is_(None) if case_id is None else Event.case_id == case_id
    current = s.scalars(sa.select(Event).where(where, Event.seq == seq).order_by(Event.id)).first()
    if current is None:
        return {"differs": [], "event": None}
    previous = s.scalars(sa.select(Event).where(where, Event.seq < seq).order_by(Event.seq.desc()).limit(1)).first()
    following = s.scalars(sa.select(Event).where(where, Event.seq > seq).order_by(Event.seq).limit(1)).first()
    differs = []
    expected_seq = previous.seq + 1 if previous else 1
    if seq != expected_seq:
        differs.append({"field": "seq", "expected": expected_seq, "found": seq,
                        "note": f"{seq - expected_seq} event(s) before this one are missing" if seq > expected_seq
                        else "this sequence number repeats or goes backwards"})
    expected_prev = previous.hash if previous else None
    if current.prev_hash != expected_prev:
        differs.append({"field": "prev_hash", "expected": expected_prev, "found": current.prev_hash,
                        "note": "does not link to the hash of the event before it"})
    recomputed = chain.event_hash(current)
    if current.hash != recomputed:
        linked = following is not None and following.prev_hash == current.hash
        differs.append({"field": "hash", "expected": recomputed, "found": current.hash,
                        "note": ("the content was edited after it was recorded: the stored hash (which the next "
                                 "event still links to) belongs to the original content") if linked else
                        ("the stored hash itself was edited: it matches neither this content nor the next "
                         "event's link") if following is not None else
                        "the content or the stored hash was edited (last event: nothing after it to compare)"})
    sig = (current.data or {}).get("signature") if isinstance(current.data, dict) else None
    if current.action == "task.completed" and isinstance(sig, dict):
        digest = binding_digest(case_id, current.task_id, current.element_id, current.data.get("submitted") or {})
        if sig.get("data_sha256") != digest:
            differs.append({"field": "signature.data_sha256", "expected": digest, "found": sig.get("data_sha256"),
                            "note": "the signed data changed after it was signed"})
    return {"differs": differs, "event": history.as_dict(current)}


def parse_anchor(text: str | None) -> dict | None:
    """``SEQ:HASH`` (as printed by exports and the console) → {"seq", "hash"}."""
    if not text:
        return None
    seq, _, digest = text.partition(":")
    if not seq.strip().isdigit() or len(digest.strip()) != 64:
        raise InvalidFormData("an anchor is SEQ:HASH (a sequence number and a 64-hex SHA-256)",
                              [{"field": "/anchor", "message": "expected SEQ:HASH"}])
    return {"seq": int(seq), "hash": digest.strip().lower()}

