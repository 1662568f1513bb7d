"""Liveness and readiness, for load balancers and orchestrators.

* live: the process answers (no database touched) — restart it if not.
* ready: the database answers a query, and a timer scheduler has reported in recently — send traffic only
  then. Every running scheduler (embedded in `accredit serve` or standalone `accredit scheduler`) writes a
  heartbeat row (``setting`` key ``scheduler:<host>:<pid>``) every :data:`HEARTBEAT_SECONDS`; a heartbeat older
  than :data:`STALE_AFTER` no longer counts, so a dead scheduler makes the API "not ready" within a minute
  instead of timers silently never firing.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from .storage.db import Database
from .storage.models import Setting

HEARTBEAT_SECONDS = 15
STALE_AFTER = timedelta(seconds=4 * HEARTBEAT_SECONDS)
PREFIX = "scheduler:"


def heartbeat_key() -> str:
    return f"{PREFIX}{socket.gethostname()}:{os.getpid()}"


def beat(db: Database, key: str | None = None, now: datetime | None = None) -> None:
    """Record that this process's scheduler is alive (one small upsert; no history: it is not an event)."""
    now = now or datetime.now(timezone.utc)
    with db.write() as s:
        row = s.get(Setting, key or heartbeat_key())
        value = {"at": now.isoformat()}
        if row is None:
            s.add(Setting(key=key or heartbeat_key(), value=value))
        else:
            row.value = value


def forget(db: Database, key: str | None = None) -> None:
    """A scheduler that stops cleanly takes its heartbeat with it."""
    with db.write() as s:
        s.execute(sa.delete(Setting).where(Setting.key == (key or heartbeat_key())))


def readiness(db: Database, *, require_scheduler: bool = True, now: datetime | None = None) -> dict:
    """``{"ready": bool, "checks": {...}}``: the database and the schedulers' heartbeats."""
    now = now or datetime.now(timezone.utc)
    checks: dict = {}
    try:
        with db.read() as s:
            s.execute(sa.text("SELECT 1"))
            beats = s.execute(sa.select(Setting.key, Setting.value).where(Setting.key.like(f"{PREFIX}%"))).all()
        checks["database"] = {"ok": True}
    except sa.exc.SQLAlchemyError as exc:
        checks["database"] = {"ok": False, "error": exc.__class__.__name__}
        return {"ready": False, "checks": checks}
    fresh = []
    for key, value in beats:
        try:
            at = datetime.fromisoformat((value or {}).get("at", ""))
        except (TypeError, ValueError, AttributeError):
            continue
        if now - at <= STALE_AFTER:
            fresh.append({"scheduler": key[len(PREFIX):], "at": at.isoformat()})
    checks["scheduler"] = {"ok": bool(fresh) or not require_scheduler, "alive": fresh,
                           "required": require_scheduler}
    return {"ready": all(c["ok"] for c in checks.values()), "checks": checks}
