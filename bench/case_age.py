"""Is a step in an old case as cheap as a step in a young one? (issue 13: "flat in case age")

One step = ``Engine.complete_task`` on a user-task loop (load the case row, deserialize, check, run the task
and the engine steps, prune, history diff, inbox/timer indexes, serialize, commit), CPU time of this process
(``time.process_time``; SQLite runs in-process). Measured in the same run, interleaved:

- young: the first step of a freshly started case;
- old: a step of one case that has already taken 1,000 loop steps;
- baselines: ``json.dumps`` of a fixed ~50 KB document, and the young step itself (ratio 1.0).

Also prints the serialized state size and the deserialize / serialize time of each case.

    python bench/case_age.py [--prior 1000] [--samples 30] [--before 400]

``--before N`` also runs the loop with pruning switched off (the state as SpiffWorkflow keeps it) to N
prior steps, for comparison; beyond ~500 it would stall without engine/workflow/stepping.py.

``--curve`` samples the step cost at several ages instead (every ``--every`` prior steps up to ``--prior``
with pruning on; up to ``--before``, default 480, with it off), each point the median of ``--samples``
old-case steps over the median of as many young-case steps interleaved with them, and ``--plot PATH``
draws both curves (needs the optional extra: ``pip install -e '.[bench]'``):

    python bench/case_age.py --curve --plot docs/img/case-age.svg
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ACCREDIT_PASSWORD_HASH", "fast")

import sqlalchemy as sa  # noqa: E402

from engine.workflow import pruning  # noqa: E402
from engine.actors import Actor  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from engine.storage.models import Case  # noqa: E402
from engine.cases.services import Engine  # noqa: E402
from tests.engine.bpmn_builder import user_loop  # noqa: E402

ALICE = Actor("alice", {"applicant"}, "lab-a")
ANSWER = {"answer": "yes", "note": "again"}


def cpu(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def fresh_engine() -> Engine:
    db = Database(f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite")
    db.migrate()
    engine = Engine(db)
    engine.deploy(user_loop())
    return engine


class LoopCase:
    def __init__(self, engine: Engine):
        self.engine = engine
        case = engine.start_case("loop", ALICE, "lab-a")
        self.id, self.task = case.id, case.tasks[0].id

    def step(self) -> None:
        case = self.engine.complete_task(self.task, ALICE, ANSWER)
        self.task = case.tasks[0].id

    def state(self) -> str:
        with self.engine.db.read() as s:
            return s.scalar(sa.select(Case.state).where(Case.id == self.id))

    def codec_ms(self) -> tuple[float, float]:
        """Median CPU ms to deserialize and to serialize this case's state."""
        with self.engine.db.read() as s:
            row = s.get(Case, self.id)
            loads, dumps = [], []
            for _ in range(10):
                t0 = time.process_time()
                wf = self.engine.specs.restore(row)
                loads.append(time.process_time() - t0)
                dumps.append(cpu(lambda: self.engine.serializer.dump_state(wf)))
        return statistics.median(loads) * 1000, statistics.median(dumps) * 1000


def json_baseline() -> float:
    doc = {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b", "c"], "score": i * 0.5} for i in range(600)]}
    return statistics.median(cpu(lambda: json.dumps(doc)) for _ in range(30))


def measure(prior: int, samples: int) -> dict:
    engine = fresh_engine()
    old = LoopCase(engine)
    for _ in range(prior):
        old.step()
    young_t, old_t, json_t = [], [], []
    for _ in range(samples):
        young = LoopCase(engine)
        young_t.append(cpu(young.step))
        old_t.append(cpu(old.step))
        json_t.append(json_baseline())
    return {"young": statistics.median(young_t), "old": statistics.median(old_t), "json": statistics.median(json_t),
            "young_state": len(young.state()), "old_state": len(old.state()),
            "young_codec": young.codec_ms(), "old_codec": old.codec_ms(), "prior": prior + samples // 2}


def ages(top: int, every: int) -> list[int]:
    """0, every, 2*every, ... up to ``top``, and ``top`` itself."""
    points = list(range(0, top, every))
    return points + [top] if top not in points else points


def curve(points: list[int], samples: int) -> list[dict]:
    """One old case stepped to each age in ``points``; at each, ``samples`` old-case steps interleaved with as
    many first steps of fresh cases (alternating which goes first), medians. The age of a point is the old
    case's median number of prior steps over its samples (the samples themselves age it)."""
    engine = fresh_engine()
    old = LoopCase(engine)
    taken = 0
    out = []
    for target in points:
        while taken < target:
            old.step()
            taken += 1
        young_t, old_t = [], []
        for i in range(samples):
            young = LoopCase(engine)
            if i % 2:
                old_t.append(cpu(old.step))
                young_t.append(cpu(young.step))
            else:
                young_t.append(cpu(young.step))
                old_t.append(cpu(old.step))
        age = taken + (samples - 1) / 2
        taken += samples
        y, o = statistics.median(young_t), statistics.median(old_t)
        out.append({"age": age, "young": y, "old": o, "ratio": o / y, "state": len(old.state())})
        print(f"  ~{age:6.1f} prior steps: young {y * 1000:6.2f} ms, old {o * 1000:7.2f} ms CPU  "
              f"({o / y:5.2f}x)  state {out[-1]['state'] / 1024:7.1f} KiB", flush=True)
    return out


def plot(on: list[dict], off: list[dict], path: str, plt) -> None:
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    top = max([p["age"] for p in on + off] + [1000])
    if off:
        ax.plot([p["age"] for p in off], [p["ratio"] for p in off], "s-", color="#c0392b", lw=2, ms=5,
                label="before: pruning off, every finished task kept in the state")
        last = off[-1]
        ax.annotate(f"{last['ratio']:.1f}×, state {last['state'] / 1024:.0f} KiB", (last["age"], last["ratio"]),
                    xytext=(8, -4), textcoords="offset points", color="#c0392b", va="top")
        ax.axvline(500, color="#7f8c8d", ls=":", lw=1.2)
        ax.text(508, max(p["ratio"] for p in off) * 0.62,
                "before the fix, a two-task loop\nstalled here (pass 500)", color="#555555", fontsize=9, va="top")
    ax.plot([p["age"] for p in on], [p["ratio"] for p in on], "o-", color="#1f5fa8", lw=2, ms=5,
            label="now: pruning on")
    last = on[-1]
    ax.annotate(f"{last['ratio']:.2f}×, state {last['state'] / 1024:.1f} KiB", (last["age"], last["ratio"]),
                xytext=(0, 10), textcoords="offset points", color="#1f5fa8", ha="right", va="bottom")
    ax.axhline(1.5, color="#2e7d32", ls="--", lw=1.4, label="target: at most 1.5×")
    ax.set_xlim(0, top * 1.03)
    ax.set_ylim(0, max([p["ratio"] for p in on + off] + [2]) * 1.12)
    ax.set_xlabel("prior steps in the case")
    ax.set_ylabel("cost of one step (× a young case's step)")
    ax.set_title("CPU cost of one step as a case ages (user-task loop, SQLite)", fontsize=11)
    ax.legend(loc="upper left", frameon=False)
    from bench.plotting import save

    save(fig, path)


def report(title: str, r: dict) -> None:
    print(title)
    print(f"  baseline json.dumps (~50 KB): {r['json'] * 1000:6.2f} ms CPU")
    print(f"  young case, 1st step:         {r['young'] * 1000:6.2f} ms CPU  (1.00x)  state {r['young_state'] / 1024:7.1f} KiB"
          f"  deserialize {r['young_codec'][0]:5.2f} ms, serialize {r['young_codec'][1]:5.2f} ms")
    print(f"  old case, ~{r['prior']} prior steps: {r['old'] * 1000:6.2f} ms CPU  ({r['old'] / r['young']:.2f}x)  "
          f"state {r['old_state'] / 1024:7.1f} KiB  deserialize {r['old_codec'][0]:5.2f} ms, "
          f"serialize {r['old_codec'][1]:5.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prior", type=int, default=1000, help="loop steps the old case has taken")
    ap.add_argument("--samples", type=int, default=30, help="interleaved samples per case")
    ap.add_argument("--before", type=int, default=None,
                    help="also measure with pruning off at this age (with --curve: up to it, default 480; 0: skip)")
    ap.add_argument("--curve", action="store_true", help="sample the step cost at several ages")
    ap.add_argument("--every", type=int, default=100, help="with --curve: prior steps between two points")
    ap.add_argument("--plot", metavar="PATH", help="with --curve: draw the curves to PATH (.svg or .png)")
    args = ap.parse_args()
    if args.plot and not args.curve:
        ap.error("--plot draws the --curve: pass both")
    if args.curve:
        plt = None
        if args.plot:
            from bench.plotting import pyplot

            plt = pyplot()  # before measuring: a missing matplotlib says so now, not after minutes
        before = 480 if args.before is None else args.before
        print(f"baseline json.dumps (~50 KB): {json_baseline() * 1000:.2f} ms CPU")
        print(f"Step cost by case age, pruning on, median of {args.samples} interleaved samples per point")
        on = curve(ages(args.prior, args.every), args.samples)
        off = []
        if before:
            pruning.prune = lambda wf: 0  # the engine calls pruning.prune(wf): switched off for this run
            print("Same, pruning off (the state as SpiffWorkflow keeps it)")
            off = curve(ages(before, args.every), args.samples)
        if plt is not None:
            plot(on, off, args.plot, plt)
        return
    report(f"Step cost by case age (pruning on), median of {args.samples}", measure(args.prior, args.samples))
    if args.before:
        pruning.prune = lambda wf: 0  # the engine calls pruning.prune(wf): switched off for this run
        report(f"Same, pruning off (the state as SpiffWorkflow keeps it), median of {args.samples}",
               measure(args.before, args.samples))


if __name__ == "__main__":
    main()
