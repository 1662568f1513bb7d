"""Draining due timers: what :meth:`Engine.fire_due_timers` (the scheduler, ``accredit timers fire``) runs.

The due timers are read in batches, in due order (keyset on ``(due_at, id)``, served by ``ix_timer_due``), so a
backlog of any size is never held in memory at once. Each case is then its own transaction, taken with one
locked read of the case row (with its definition; the spec objects are cached per version):

* PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` — a case another scheduler is advancing right now is
  skipped, not waited for; SQLite: ``BEGIN IMMEDIATE`` serialises writers.
* Whether a timer of the case is still due is read from the case's own state in that transaction, so a case
  another scheduler fired meanwhile is left alone: no timer fires twice, and no extra query is spent on it.
* A case that fails (a script error, a sandbox refusal, anything but the database itself going away) is
  rolled back whole — nothing half-done — and a ``timer.failed`` system event records it in a transaction of
  its own; the drain goes on with the next case.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from engine.records import history
from engine.actors import SYSTEM
from engine.errors import EngineError
from engine.storage.models import Timer, utcnow
from .operation import Loaded, Operation

if TYPE_CHECKING:
    from .services import Engine

log = logging.getLogger(__name__)

#: due timer rows read per query while draining
BATCH_SIZE = 500


def due_cases(engine: Engine, now: datetime, batch_size: int = BATCH_SIZE):
    """Yield the ids of the cases with a timer due by ``now``, in the order of their earliest due timer,
    reading the timer index ``batch_size`` rows at a time."""
    seen: set[str] = set()
    after = None
    while True:
        stmt = (sa.select(Timer.case_id, Timer.due_at, Timer.id).where(Timer.due_at <= now)
                .order_by(Timer.due_at, Timer.id).limit(batch_size))
        if after is not None:
            due, last = after  # (due_at, id) > after, written so the binds take the column's type
            stmt = stmt.where(sa.or_(Timer.due_at > due, sa.and_(Timer.due_at == due, Timer.id > last)))
        with engine.db.read() as s:
            rows = s.execute(stmt).all()
        for case_id, _due, _id in rows:
            if case_id not in seen:
                seen.add(case_id)
                yield case_id
        if len(rows) < batch_size:
            return
        after = (rows[-1].due_at, rows[-1].id)


def has_due_timer(loaded: Loaded, now: datetime) -> bool:
    """Whether the case's state (as locked in this transaction) has a timer due by ``now``."""
    return any(due_at is not None and due_at <= now for _t, _e, _n, _k, due_at, _a, _i in loaded.timer_rows)


def fire_case(engine: Engine, case_id: str, now: datetime) -> bool:
    """Fire the due timers of one case in one transaction. False when there was nothing to do: the case
    ended, another scheduler holds it (PostgreSQL) or fired its timers meanwhile."""
    with engine.db.write() as s:
        ops = Operation(engine, s, SYSTEM)
        loaded = ops.load(case_id, skip_locked=True)
        if loaded is None or loaded.row.status != "running" or not has_due_timer(loaded, now):
            return False
        ops.run(loaded, lambda: None)  # refresh timers + engine steps, repeated while they fire
        ops.finish()
    return True


def _infrastructure(exc: Exception) -> bool:
    """The database itself failing (connection lost, locked past the timeout): stop the drain, retry later."""
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError))


def drain(engine: Engine, now: datetime | None = None, *, batch_size: int = BATCH_SIZE) -> tuple[list, list]:
    """Fire every timer due by ``now``; returns ``(advanced, failed)`` case ids."""
    now = now or utcnow()
    advanced, failed = [], []
    for case_id in due_cases(engine, now, batch_size):
        try:
            fired = fire_case(engine, case_id, now)
        except Exception as exc:  # noqa: BLE001 - one failing case must not stop the others
            if _infrastructure(exc):
                raise
            if isinstance(exc, EngineError):
                details = exc.to_dict()
            else:
                log.exception("firing the timers of case %s failed", case_id)
                details = {"kind": "internal-error", "message": f"{type(exc).__name__}: {exc}"}
            # the case stays exactly as it was; the failure is on record and the others go on
            with engine.db.write() as s:
                history.record_system(s, SYSTEM.username, "timer.failed", {**details, "case_id": case_id})
            failed.append(case_id)
            continue
        if fired:
            advanced.append(case_id)
    return advanced, failed
