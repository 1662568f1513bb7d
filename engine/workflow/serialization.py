"""Workflow (de)serialization.

The case row stores the workflow state *without* its spec: specs are serialized once per definition version
(``process_definition.spec``) and restored once per process lifetime (cached), then handed to the
deserializer as ready objects. Task data may hold ``date``/``Decimal`` values; they are registered here.
"""
from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG


class _StateOnlyWorkflowConverter(BpmnWorkflowConverter):
    """Like the stock converter, but leaves the spec out of the dict (it is stored per definition)."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _registry():
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _StateOnlyWorkflowConverter
    registry = BpmnWorkflowSerializer.configure(config)
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return registry


class StateSerializer:
    def __init__(self):
        self._serializer = BpmnWorkflowSerializer(_registry())
        self.registry = self._serializer.registry

    # -- specs: once per definition version ---------------------------------------------------------
    def dump_specs(self, spec, subprocess_specs: dict) -> str:
        return json.dumps({
            "spec": self.registry.convert(spec),
            "subprocess_specs": {name: self.registry.convert(s) for name, s in subprocess_specs.items()},
        })

    def load_specs(self, text: str):
        dct = json.loads(text)
        spec = self.registry.restore(dct["spec"])
        subs = {name: self.registry.restore(s) for name, s in dct["subprocess_specs"].items()}
        return spec, subs

    # -- case state ----------------------------------------------------------------------------------
    def dump_state(self, workflow: BpmnWorkflow) -> str:
        s = self._serializer
        s.registry._encoder_mode = True
        try:
            dct = s.to_dict(workflow)
            dct[s.VERSION_KEY] = s.VERSION
            return json.dumps(dct, cls=s._encoder_cls, separators=(",", ":"))
        finally:
            s.registry._encoder_mode = False

    def load_state(self, text: str, spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:
        s = self._serializer
        dct = json.loads(text, cls=s.json_decoder_cls)
        s.migrate(dct)
        dct["spec"] = spec  # already objects: restore() passes them through untouched
        dct["subprocess_specs"] = dict(subprocess_specs)
        workflow = s.from_dict(dct)
        # Deserialising gives the default (unsandboxed) script engine back: re-attach ours, always.
        workflow.script_engine = script_engine
        return workflow
