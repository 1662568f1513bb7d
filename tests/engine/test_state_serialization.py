"""The case state is written by our own task converter (task ids parsed and printed once, through a cache:
engine/workflow/serialization.py). What it writes must be exactly what SpiffWorkflow's own converters write, and
what it reads back must be the same workflow — on a real case of the shipped process (call activities, timers,
data deltas), not a toy."""
from __future__ import annotations

import json

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from engine.cases.deployment import Deployment
from engine.cases.shipped import deploy_shipped
from engine.storage.models import Case

from ..conftest import FORMS, PROCESSES
from ..scenarios.forms_data import form


def _tasks(wf) -> list[tuple]:
    return sorted((str(t.id), str(t.parent.id) if t.parent else None, t.task_spec.name, t.state,
                   json.dumps(t.data, sort_keys=True, default=str)) for t in wf.get_tasks())


def test_the_state_written_and_read_is_what_spiffworkflow_itself_writes_and_reads(engine, actors):
    deploy_shipped(Deployment(engine), PROCESSES, FORMS)
    case = engine.start_case("accreditation", actors["applicant"], "lab-a")
    eligibility = next(t for t in case.tasks if t.element_id == "eligibility_application")
    case = engine.complete_task(eligibility.id, actors["applicant"], form("eligibility_application"))
    with engine.db.read() as s:
        row = s.get(Case, case.id)
        wf = engine.specs.restore(row)
        state = row.state
    ours = json.loads(engine.serializer.dump_state(wf))
    assert ours == json.loads(state)  # a restore then a dump changes nothing

    stock = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(dict(SPIFF_CONFIG)))  # the library's own
    stock.registry._encoder_mode = True
    expected = json.loads(json.dumps(stock.to_dict(wf), cls=stock._encoder_cls))
    assert ours["tasks"] == expected["tasks"]
    assert ours["subprocesses"] == expected["subprocesses"]
    assert ours["subprocesses"], "the case is inside a call activity: its sub-workflow is part of the state"

    # read back through the stock converters, the same workflow
    stock.registry._encoder_mode = False
    again = stock.from_dict({**json.loads(state), "spec": wf.spec, "subprocess_specs": dict(wf.subprocess_specs)})
    assert _tasks(again) == _tasks(wf)
