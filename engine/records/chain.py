"""The hash chain of the event log: how an event's hash is computed, in one place.

Every event stores ``prev_hash`` (the hash of the event before it in the same chain, ``None`` for the first)
and ``hash`` = SHA-256 over the canonical JSON of its content fields and ``prev_hash``. Each case is one
chain (ordered by ``seq``); system events (``case_id`` NULL) form their own chain. Changing, removing or
reordering any stored event changes a hash that a later event depends on, which
:func:`engine.reports.audit.verify_chain` detects.

Canonical JSON: keys sorted, no whitespace, UTF-8, timestamps as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC).
Migration 0004 holds a frozen copy of this algorithm (for the backfill); change neither without a new
chain version.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

#: the event columns covered by the hash, besides ``prev_hash``
CONTENT_FIELDS = ("case_id", "seq", "occurred_at", "actor", "actor_name", "role", "action", "element_id",
                  "element_name", "element_type", "task_id", "data")


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def sha256_hex(value) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def iso_utc(value: datetime) -> str:
    if value.tzinfo is None:  # stored naive UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def content(event) -> dict:
    """The hashed content of an event (an ORM row or anything with the same attributes)."""
    out = {f: getattr(event, f) for f in CONTENT_FIELDS}
    out["occurred_at"] = iso_utc(out["occurred_at"])
    out["prev_hash"] = event.prev_hash
    return out


def event_hash(event) -> str:
    return sha256_hex(content(event))
