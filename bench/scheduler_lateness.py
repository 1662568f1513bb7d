"""How late does a due timer fire? (issue 5 target: <= 1 s)

Real time, no clock faking: N cases each get a timer due 1–3 s from now; the embedded TimerScheduler (the
APScheduler job re-armed at min(due_at)) fires them. Lateness = time the history recorded `timer.fired`
minus the timer's due time. Baseline measured in the same run: a plain `threading.Timer` set for the same
due times (the best a Python process can do), so the ratio shows the cost of going through the engine
(lock, load, refresh, save, history) rather than the machine's timer resolution.

    python bench/scheduler_lateness.py [cases]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from engine.actors import Actor  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from engine.storage.models import Event, Timer  # noqa: E402
from engine.scheduler import TimerScheduler  # noqa: E402
from engine.cases.services import Engine  # noqa: E402
from tests.engine.bpmn_builder import flow, process  # noqa: E402


def bundle():
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:intermediateCatchEvent id="pause" name="Wait"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">delay</bpmn:timeDuration>'
            '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:endEvent id="end"/>'
            + flow("f1", "start", "pause") + flow("f2", "pause", "end"))
    return {"wait.bpmn": process("wait", {"coordinator": ["start", "pause", "end"]}, body)}


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(n: int = 20) -> None:
    tmp = tempfile.mkdtemp()
    db = Database(f"sqlite:///{tmp}/bench.sqlite")
    db.migrate()
    engine = Engine(db)
    engine.deploy(bundle())
    coordinator = Actor("carol", {"coordinator"}, None)
    sched = TimerScheduler(engine, resync_seconds=0).start()

    for i in range(n):
        engine.start_case("wait", coordinator, "lab-a", {"delay": f"PT{1 + (i % 3)}S"})
    with db.read() as s:
        due = {r.case_id: r.due_at for r in s.scalars(sa.select(Timer))}

    baseline = []
    now = datetime.now(timezone.utc)
    for due_at in due.values():
        def note(due_at=due_at):
            baseline.append((datetime.now(timezone.utc) - due_at).total_seconds())
        threading.Timer(max(0.0, (due_at - now).total_seconds()), note).start()

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with db.read() as s:
            fired = s.scalar(sa.select(sa.func.count(Event.id)).where(Event.action == "timer.fired"))
        if fired >= n and len(baseline) >= n:
            break
        time.sleep(0.05)
    sched.shutdown()

    with db.read() as s:
        events = {e.case_id: e.occurred_at for e in s.scalars(sa.select(Event).where(Event.action == "timer.fired"))}
    lateness = [(events[c] - due[c]).total_seconds() for c in due if c in events]
    missing = n - len(lateness)
    print(f"timers: {n}, fired: {len(lateness)}, missing: {missing}")
    for label, values in (("engine scheduler", lateness), ("threading.Timer baseline", baseline)):
        if values:
            print(f"{label:26} lateness s: mean {statistics.mean(values):.3f}  p50 {percentile(values, 50):.3f}  "
                  f"p95 {percentile(values, 95):.3f}  max {max(values):.3f}")
    if lateness and baseline:
        ratio = statistics.mean(lateness) / max(statistics.mean(baseline), 1e-6)
        print(f"ratio mean(engine) / mean(baseline): {ratio:.1f}x; target max <= 1 s: "
              f"{'met' if max(lateness) <= 1.0 else 'NOT met'}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
