"""Signed checkpoints: an audit chain that holds without a prior anchor.

The hash chain (:mod:`engine.records.chain`) catches an edit, a deletion or a reordering — unless whoever edits
also recomputes every hash after the edit. A checkpoint closes that gap: at every commit that added events,
the head (seq, hash) of each touched chain is signed with HMAC-SHA256 under a key kept **outside the
database** (``ACCREDIT_AUDIT_KEY``, hex, or the file named by ``ACCREDIT_AUDIT_KEY_FILE``; made by
``accredit audit keygen``). :func:`engine.reports.audit.verify_chain` then checks that the chain still passes
through its signed head and that nothing follows it: rewriting a tail with recomputed hashes, forging or
deleting the checkpoint are all reported, with no earlier anchor needed.

What it cannot catch: someone holding the key (it signs), or someone who restores both an older
checkpoint row and the chain exactly as it was at that time (truncating back to a signed past). An anchor
printed on an export (``--anchor``) still catches the latter. Without a key configured, nothing is signed
and verification says so (``checkpoint.status = "no key"``).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from .chain import canonical_json
from engine.errors import EngineError
from engine.storage.models import AuditCheckpoint, Event, utcnow

KEY_ENV = "ACCREDIT_AUDIT_KEY"
KEY_FILE_ENV = "ACCREDIT_AUDIT_KEY_FILE"
SYSTEM_CHAIN = "system"
_PENDING = "accredit_audit_heads"


class AuditKeyError(EngineError):
    """The configured audit key cannot be used (unreadable file, not hex, too short)."""

    kind = "audit-key"


def load_key() -> bytes | None:
    """The checkpoint key: ``ACCREDIT_AUDIT_KEY`` (hex), else the file ``ACCREDIT_AUDIT_KEY_FILE``."""
    raw = os.environ.get(KEY_ENV, "").strip()
    source = KEY_ENV
    if not raw and os.environ.get(KEY_FILE_ENV):
        path = Path(os.environ[KEY_FILE_ENV])
        source = str(path)
        try:
            raw = path.read_text(encoding="ascii").strip()
        except OSError as exc:
            raise AuditKeyError(f"cannot read the audit key file {path}: {exc.strerror or exc}") from None
    if not raw:
        return None
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise AuditKeyError(f"the audit key in {source} is not hexadecimal "
                            f"(make one with `accredit audit keygen`)") from None
    if len(key) < 16:
        raise AuditKeyError(f"the audit key in {source} is shorter than 16 bytes")
    return key


def generate_key_file(path: str | Path) -> Path:
    """Write a new random 32-byte key (hex) readable by its owner only; never overwrites a key."""
    path = Path(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32) + "\n")
    return path


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"accredit-audit-key:" + key).hexdigest()[:16]


def sign(key: bytes, chain: str, seq: int, head_hash: str) -> str:
    return hmac.new(key, canonical_json({"chain": chain, "seq": seq, "hash": head_hash}), hashlib.sha256).hexdigest()


def chain_name(case_id: str | None) -> str:
    return case_id or SYSTEM_CHAIN


def note(s: Session, case_id: str | None) -> None:
    """Remember that this transaction added events to the chain (signed at commit)."""
    s.info.setdefault(_PENDING, set()).add(case_id)


@sa_event.listens_for(Session, "before_commit")
def _sign_heads(session: Session) -> None:
    chains = session.info.pop(_PENDING, None)
    if not chains:
        return
    key = load_key()
    if key is None:
        return
    session.flush()
    for case_id in chains:
        write_checkpoint(session, key, case_id)


@sa_event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _head(s: Session, case_id: str | None):
    where = Event.case_id.is_(None) if case_id is None else Event.case_id == case_id
    return s.execute(sa.select(Event.seq, Event.hash).where(where).order_by(Event.seq.desc()).limit(1)).first()


def write_checkpoint(s: Session, key: bytes, case_id: str | None) -> None:
    """Sign the chain's current head (read back from the database: events of a rolled-back savepoint are
    not there)."""
    head = _head(s, case_id)
    if head is None:
        return
    chain = chain_name(case_id)
    row = s.get(AuditCheckpoint, chain)
    if row is None:
        row = AuditCheckpoint(chain=chain)
        s.add(row)
    row.seq, row.hash, row.signed_at = head.seq, head.hash, utcnow()
    row.key_id, row.mac = key_id(key), sign(key, chain, head.seq, head.hash)


def check(s: Session, case_id: str | None, rows: list) -> tuple[dict, dict | None]:
    """``(checkpoint view, {"seq", "reason"} or None)`` for a chain whose events are ``rows`` (seq order)."""
    key = load_key()
    if key is None:
        return {"status": "no key"}, None
    chain = chain_name(case_id)
    row = s.get(AuditCheckpoint, chain)
    if row is None:
        if not rows:
            return {"status": "empty"}, None
        return {"status": "missing"}, {"seq": rows[-1].seq, "reason": (
            "the chain has no signed checkpoint (deleted, or written without the audit key: sign the verified "
            "heads with `accredit audit checkpoint`)")}
    view = {"status": "signed", "seq": row.seq, "hash": row.hash,
            "signed_at": row.signed_at.isoformat() if row.signed_at else None}
    if row.key_id != key_id(key):
        return {**view, "status": "other key"}, {"seq": row.seq, "reason": "the checkpoint was signed with "
                                                                            "another key"}
    if not hmac.compare_digest(row.mac, sign(key, chain, row.seq, row.hash)):
        return {**view, "status": "forged"}, {"seq": row.seq, "reason": "the checkpoint's signature is wrong "
                                                                         "(the checkpoint was edited)"}
    by_seq = {e.seq: e for e in rows}
    signed = by_seq.get(row.seq)
    if signed is None or signed.hash != row.hash:
        return {**view, "status": "differs"}, {"seq": row.seq, "reason": (
            f"the chain no longer passes through its signed head at seq {row.seq} (events rewritten and their "
            f"hashes recomputed?)")}
    if rows and rows[-1].seq > row.seq:
        return {**view, "status": "unsigned tail"}, {"seq": row.seq + 1, "reason": (
            f"events after seq {row.seq} are not covered by the signed checkpoint (added outside the "
            f"application?)")}
    return view, None
