"""Workflow (de)serialization.

The case row stores the workflow state *without* its spec: specs are serialized once per definition version
(``process_definition.spec``) and restored once per process lifetime (cached), then handed to the
deserializer as ready objects. Task data may hold ``date``/``Decimal`` values; they are registered here.
"""
from __future__ import annotations

import json
from copy import copy
from datetime import date
from decimal import Decimal
from functools import lru_cache
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.workflow import BpmnSubWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnEventConverter,
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from . import case_data


class _CachedIds:
    """Task-mapping keys parsed through the id cache (:data:`_uuid`) rather than one ``UUID()`` each; the
    workflow's data written and read as case data (:mod:`engine.workflow.case_data`)."""

    def mapping_from_dict(self, mapping, key_class=None, **kwargs):
        return super().mapping_from_dict(mapping, _uuid if key_class is UUID else key_class, **kwargs)

    def to_dict(self, workflow):
        dct = super().to_dict(workflow)
        dct["data"] = case_data.escape(dct["data"])
        return dct

    def set_default_attributes(self, workflow, dct):
        data = dct.pop("data", {})
        super().set_default_attributes(workflow, dct)
        workflow.data = case_data.restore(data, self.registry.convert_from_dict)


class _SubWorkflowConverter(_CachedIds, BpmnSubWorkflowConverter):
    pass


class _StateOnlyWorkflowConverter(_CachedIds, BpmnWorkflowConverter):
    """Like the stock converter, but leaves the spec out of the dict (it is stored per definition)."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["data"] = case_data.escape(dct["data"])
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


class _EventConverter(BpmnEventConverter):
    """A pending event's payload is case data (a message's, from outside)."""

    def to_dict(self, event):
        dct = super().to_dict(event)
        dct["payload"] = case_data.escape(dct["payload"])
        return dct

    def from_dict(self, dct):
        return self.target_class(self.registry.restore(dct["event_definition"]),
                                 case_data.restore(dct["payload"], self.registry.convert_from_dict),
                                 self.mapping_from_dict(dct["correlations"]))


# A task id appears three times in a state (its own, its parent's list of children, its children's parent) and
# parsing or printing a UUID is a fifth of restoring a case: each string is parsed once, each id printed once.
# UUIDs are immutable, so one object may stand for the same id in every workflow of the process.
_uuid = lru_cache(maxsize=65536)(UUID)
_MUTABLE = (dict, list, set)
_uuid_str = lru_cache(maxsize=65536)(str)


class _TaskConverter(TaskConverter):
    """The stock task converter (SpiffWorkflow 3.2, same dict, same semantics) with task ids parsed and printed
    through the caches above."""

    def to_dict(self, task):
        parent = task.parent
        if parent is None:
            data, delta = task.data, {}
        else:
            data, delta = {}, {"updates": case_data.escape(DeepMerge.get_updated_keys(parent.data, task.data)),
                               "deletions": DeepMerge.get_deleted_keys(parent.data, task.data)}
        return {
            "id": _uuid_str(task.id),
            "parent": _uuid_str(task._parent) if parent is not None else None,
            "children": [_uuid_str(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": case_data.escape(self.registry.convert(task.internal_data)),
            "data": case_data.escape(data),
            "delta": delta,
        }

    def from_dict(self, dct, workflow):
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=_uuid(dct["id"]))
        task._parent = _uuid(dct["parent"]) if dct["parent"] is not None else None
        task._children = [_uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        from_dict = self.registry.convert_from_dict
        task.internal_data = case_data.restore(dct["internal_data"], from_dict)
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        if delta and task.parent is not None:
            # DeepMerge.merge({}, parent data), the stock restore, without its per-key calls: mutable values copied
            data = {k: copy(v) if isinstance(v, _MUTABLE) else v for k, v in task.parent.data.items()}
            data.update(case_data.restore(delta.get("updates", {}), from_dict))
            for key in delta.get("deletions", {}):
                data.pop(key, None)
        else:
            data = case_data.restore(dct["data"], from_dict)
        task.data = data
        return task


def _registry():
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _StateOnlyWorkflowConverter
    config[Task] = _TaskConverter
    config[BpmnSubWorkflow] = _SubWorkflowConverter
    config[BpmnEvent] = _EventConverter
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
