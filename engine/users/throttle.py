"""Throttling of password checks (sign-in and electronic signatures) that holds under parallel requests.

An attempt is counted BEFORE the password is verified: one short write transaction counts the recent
attempts that did not succeed (failed, or still being checked) and inserts this one, and only then is the
(slow, argon2) password hash verified — outside any transaction. Twenty parallel guesses against a limit
of five therefore get five checked, not nineteen. The count and the insert are atomic: on SQLite the write
transaction is ``BEGIN IMMEDIATE`` (writers are serialised); on PostgreSQL a transaction-scoped advisory lock
per (kind, username) serialises the attempts on one account without blocking anyone else.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from engine.storage.models import AuthAttempt, utcnow

#: advisory lock namespace (first key of pg_advisory_xact_lock(int, int))
_LOCK_NAMESPACE = 0x7468726F  # "thro"


@dataclass(frozen=True)
class Limit:
    per_source: int
    all_sources: int
    window: timedelta


def begin(s, kind: str, username: str, source: str | None, limit: Limit) -> int | None:
    """Inside a write transaction: the id of a new pending attempt, or None when the limit is reached."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(sa.text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
                  {"ns": _LOCK_NAMESPACE, "key": f"{kind}:{username}"})
    since = utcnow() - limit.window
    not_ok = sa.or_(AuthAttempt.succeeded.is_(None), AuthAttempt.succeeded.is_(False))
    base = sa.select(sa.func.count(AuthAttempt.id)).where(
        AuthAttempt.kind == kind, AuthAttempt.username == username, AuthAttempt.at >= since, not_ok)
    everywhere = s.scalar(base)
    here = s.scalar(base.where(AuthAttempt.source.is_(None) if source is None else AuthAttempt.source == source))
    # per source, so a stranger guessing cannot lock the real user out from their own machine; and a higher
    # cap over all sources against guessing from many addresses
    if here >= limit.per_source or everywhere >= limit.all_sources:
        return None
    attempt = AuthAttempt(kind=kind, username=username, source=source, at=utcnow(), succeeded=None)
    s.add(attempt)
    s.flush()
    return attempt.id


def finish(s, attempt_id: int, succeeded: bool) -> None:
    s.execute(sa.update(AuthAttempt).where(AuthAttempt.id == attempt_id).values(succeeded=succeeded))
