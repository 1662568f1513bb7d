"""The timer scheduler: wakes exactly when the next timer of any case is due, fires it, re-arms.

APScheduler holds one job, ``accredit-timers``, in memory (the database's ``timer`` index is the durable
record; the job is rebuilt from it on start), with a date trigger at ``min(timer.due_at)`` — no polling of cases. Firing is :meth:`Engine.fire_due_timers`
(lock the case, refresh timers, advance, save, record ``timer.fired``; one transaction per case; a timer
never fires twice even with several schedulers on one PostgreSQL). After downtime the job is overdue and
runs at once, firing every overdue timer in due order.

In the same process as the API (``accredit serve``) the engine tells the scheduler whenever a write may have
changed the pending timers, so the wake-up is exact. A standalone scheduler (``accredit scheduler``) on
PostgreSQL LISTENs on ``accredit_timers``, which every committed operation that adds or removes a timer
NOTIFYs — exact as well; on SQLite it re-reads ``min(due_at)`` every ``resync_seconds`` (one indexed query),
which is also the safety net.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import datetime, timedelta, timezone

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from . import health
from .storage.models import utcnow
from .cases.services import Engine

log = logging.getLogger(__name__)
JOB_ID = "accredit-timers"
_ACTIVE: dict[str, "TimerScheduler"] = {}


def _fire_job(key: str) -> None:
    """The persisted job's entry point (APScheduler stores it by reference)."""
    scheduler = _ACTIVE.get(key)
    if scheduler is not None:
        scheduler.fire()


class TimerScheduler:
    def __init__(self, engine: Engine, *, resync_seconds: float = 30.0, retry_seconds: float = 60.0,
                 on_fired=None):
        self.engine = engine
        self.on_fired = on_fired  # called with the ids of the cases each firing advanced
        self.resync_seconds = resync_seconds
        self.retry_seconds = retry_seconds
        self.key = f"{id(self)}"
        # In memory only: the `timer` table is the durable truth and start() catches up on anything overdue,
        # so nothing is pickled into the database (a persisted APScheduler job is a pickle, and job stores
        # must not be shared between schedulers anyway).
        self._scheduler = BackgroundScheduler(
            jobstores={"default": MemoryJobStore(), "local": MemoryJobStore()}, timezone=timezone.utc,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener: threading.Thread | None = None
        self._retry_at: datetime | None = None  # when to retry after a firing in which some timer failed
        self.rearmed = threading.Event()  # set after every re-arm (tests wait on it instead of sleeping)
        self.fired_batches = 0
        self.last_fire_at: datetime | None = None
        # seconds between the earliest due time and each firing (the last thousand: a long-lived scheduler
        # keeps nothing per timer)
        self.last_lateness: deque[float] = deque(maxlen=1000)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "TimerScheduler":
        _ACTIVE[self.key] = self
        self.engine.on_timers_changed(self.rearm)
        self._scheduler.start()
        if self.resync_seconds:
            self._scheduler.add_job(self.rearm, "interval", seconds=self.resync_seconds, id="accredit-resync",
                                    jobstore="local", replace_existing=True)
        self._scheduler.add_job(self._beat, "interval", seconds=health.HEARTBEAT_SECONDS, id="accredit-heartbeat",
                                jobstore="local", replace_existing=True)
        self._beat()
        if not self.engine.db.is_sqlite:
            self._listener = threading.Thread(target=self._listen, name="accredit-timers-listen", daemon=True)
            self._listener.start()
        self.fire()  # catch up on anything overdue, then arm for the next due time
        return self

    def _listen(self) -> None:
        """PostgreSQL: re-arm as soon as another process commits an operation (LISTEN/NOTIFY), so a timer
        created by the API is as exact as one created here; the resync interval is only a safety net."""
        import psycopg

        from .cases.operation import TIMERS_CHANNEL

        url = self.engine.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stopping.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {TIMERS_CHANNEL}")
                    self.rearm()  # anything committed before we listened
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.rearm()
            except Exception:
                log.exception("timer notifications lost; reconnecting")
                self._stopping.wait(5)

    def _beat(self) -> None:
        """The heartbeat readiness reads (engine.health): a failure to write it is logged, never fatal."""
        try:
            health.beat(self.engine.db)
        except Exception:  # noqa: BLE001 - readiness will say the scheduler is not reporting
            log.exception("scheduler heartbeat not written")

    def shutdown(self) -> None:
        self._stopping.set()
        with self._lock:  # a re-arm under way finishes; later ones see _stopping and leave APScheduler alone:
            pass  # its shutdown holds its job-store lock while it waits for running jobs (a firing, a resync),
            # and a job that then re-armed (get_job/add_job take that lock) would wait for it forever
        if self._listener is not None:
            self._listener.join(timeout=5)
        self._scheduler.shutdown(wait=True)
        _ACTIVE.pop(self.key, None)
        try:
            health.forget(self.engine.db)
        except Exception:  # noqa: BLE001 - a stale heartbeat simply expires
            log.exception("scheduler heartbeat not removed")

    # -- work --------------------------------------------------------------------------------------
    def next_wakeup(self) -> datetime | None:
        job = self._scheduler.get_job(JOB_ID)
        return job.next_run_time if job else None

    def rearm(self) -> None:
        """Point the job at the earliest pending timer (or remove it when there is none)."""
        with self._lock:
            if self._stopping.is_set():
                return
            due = self.engine.next_timer_due()
            current = self.next_wakeup()
            if due is None:
                if current is not None:
                    self._scheduler.remove_job(JOB_ID)
                self.rearmed.set()
                return
            # a due time from SpiffWorkflow fires once the clock is strictly past it
            now = utcnow()
            run_at = max(due + timedelta(milliseconds=1), now)
            if self.engine.failed_timer_cases and due <= now:
                # a failing timer: retry later, no hot loop — at the time set when it failed, not pushed back by
                # every re-arm (a resync, any commit's NOTIFY), which would postpone every timer for ever
                run_at = max(self._retry_at or now + timedelta(seconds=self.retry_seconds), now)
            if current is None or abs((current - run_at).total_seconds()) >= 0.001:
                self._scheduler.add_job(_fire_job, "date", run_date=run_at, args=[self.key], id=JOB_ID,
                                        replace_existing=True)
            self.rearmed.set()

    def fire(self) -> list[str]:
        started = utcnow()
        earliest = self.engine.next_timer_due()  # one indexed read, not the whole backlog
        try:
            advanced = self.engine.fire_due_timers()
        except Exception:
            log.exception("firing due timers failed; will retry at the next wake-up")
            advanced = []
        if earliest is not None and earliest <= started:
            self.last_lateness.append((started - earliest).total_seconds())
        self.fired_batches += 1
        self.last_fire_at = started
        self._retry_at = started + timedelta(seconds=self.retry_seconds) if self.engine.failed_timer_cases else None
        if self.on_fired is not None:
            self.on_fired(advanced)
        self.rearm()
        return advanced
