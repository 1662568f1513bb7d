"""What reading and writing a case's state costs: our converters against SpiffWorkflow's own, in one run.

A shipped accreditation case is taken to the desk review (eligibility application completed: a call activity
open, timers waiting, data deltas on ~20 tasks). Its state is then restored (JSON → workflow) and dumped
(workflow → JSON) N times, interleaved, with:

* ours: ``engine.workflow.serialization.StateSerializer`` (task ids parsed and printed through a cache), and
* stock: the same serializer with SpiffWorkflow 3.2's own task and sub-workflow converters put back,

next to a same-run baseline, ``json.loads`` + ``json.dumps`` of the same text. CPU time, medians.

    python bench/state_codec.py [N]
"""
from __future__ import annotations

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

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnSubWorkflowConverter, TaskConverter  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnSubWorkflow  # noqa: E402
from SpiffWorkflow.task import Task  # noqa: E402

from engine.actors import Actor  # noqa: E402
from engine.storage.models import Case  # noqa: E402
from engine.workflow import serialization  # noqa: E402
from tests.apps import make_app  # noqa: E402
from tests.scenarios.forms_data import form  # noqa: E402

ALICE = Actor("alice", {"applicant"}, "lab-a", "Alice")


def _stock() -> serialization.StateSerializer:
    stock = serialization.StateSerializer()
    for cls, converter in ((Task, TaskConverter), (BpmnSubWorkflow, BpmnSubWorkflowConverter)):
        converter(cls, stock.registry)  # SpiffWorkflow's own, as it ships: registering replaces ours
    return stock


def _cpu_ms(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.process_time()
        fn()
        out.append((time.process_time() - t) * 1000)
    return out


def main(n: int = 300) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="accredit-codec-"))
    app = make_app({"DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite'}", "DEPLOY_SHIPPED": True,
                    "SECRET_KEY": "bench", "ATTACHMENTS_DIR": str(tmp / "files")})
    engine = app.extensions["accredit"].engine
    case = engine.start_case("accreditation", ALICE, "lab-a")
    task = next(t for t in case.tasks if t.element_id == "eligibility_application")
    engine.complete_task(task.id, ALICE, form("eligibility_application"))
    with engine.db.read() as s:
        row = s.get(Case, case.id)
        spec, subs = engine.specs.of(row.definition)
        text = row.state
    ours, stock = engine.serializer, _stock()
    wf = ours.load_state(text, spec, subs, engine.script_engine)
    assert json.loads(stock.dump_state(wf)) == json.loads(ours.dump_state(wf)) == json.loads(text)

    results = {k: [] for k in ("ours restore", "stock restore", "ours dump", "stock dump", "json")}
    for _ in range(3):  # interleaved rounds
        for name, codec in (("ours", ours), ("stock", stock)):
            results[f"{name} restore"] += _cpu_ms(lambda: codec.load_state(text, spec, subs, engine.script_engine),
                                                  n // 3)
            results[f"{name} dump"] += _cpu_ms(lambda: codec.dump_state(wf), n // 3)
        results["json"] += _cpu_ms(lambda: json.dumps(json.loads(text)), n // 3)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"state of a shipped case at the desk review: {len(text):,} bytes, {len(wf.get_tasks())} tasks; "
          f"{n} samples each, CPU medians")
    for what in ("restore", "dump"):
        print(f"{what:8}: ours {med[f'ours {what}']:.3f} ms, stock {med[f'stock {what}']:.3f} ms "
              f"({med[f'ours {what}'] / med[f'stock {what}']:.2f}x); "
              f"= {med[f'ours {what}'] / med['json']:.1f}x the json baseline")
    print(f"baseline: json.loads + json.dumps of the same text {med['json']:.3f} ms")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
