"""Deployed process definitions as the engine runs them: spec objects, files and parsed forms, restored once
per (immutable) version and cached per engine; new and restored workflows; what a diagram lets a role read.

A definition row's ``spec`` and ``files`` columns are deferred (~250 KB per version): they are read once per
process, from the row if its session loaded them, else in a short read of their own.
"""
from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn import BpmnWorkflow

from engine.storage.db import Database
from .forms import form_schema
from engine.storage.models import Case, ProcessDefinition
from engine.workflow.serialization import StateSerializer
from engine.vocabulary import FORM, SHARE_VARIABLES, SHARE_WITH, STAFF_ONLY_VARIABLES, split_list
from engine.workflow.workflow_state import properties

#: variables the engine puts into every case; starting data may not override them
ENGINE_VARIABLES = ("case_id", "organisation_id", "business_key", "started_at", "parent_case_id")


class SpecCache:
    """The engine's view of its deployed definitions (one per :class:`~engine.cases.services.Engine`)."""

    def __init__(self, db: Database, serializer: StateSerializer, script_engine):
        self.db, self.serializer, self.script_engine = db, serializer, script_engine
        self._specs: dict[int, tuple] = {}
        self._files: dict[int, dict] = {}
        self._forms: dict[tuple, dict] = {}
        self._visibility: dict[tuple, set[str]] = {}
        self._staff_only: dict[int, frozenset[str]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def latest(s: Session, key: str) -> ProcessDefinition | None:
        """The newest deployed version of process ``key``."""
        return s.scalar(sa.select(ProcessDefinition).where(ProcessDefinition.key == key)
                        .order_by(ProcessDefinition.version.desc()).limit(1))

    def of(self, definition: ProcessDefinition) -> tuple:
        """``(spec, subprocess_specs)`` of a definition version, restored once per process."""
        with self._lock:
            cached = self._specs.get(definition.id)
        if cached is None:
            specs = self.serializer.load_specs(self._column(definition, ProcessDefinition.spec))
            with self._lock:
                cached = self._specs.setdefault(definition.id, specs)
        return cached

    def files(self, definition: ProcessDefinition) -> dict[str, str]:
        """``{filename: text}`` of a definition version, read once per process."""
        files = self._files.get(definition.id)
        if files is None:
            files = self._files.setdefault(definition.id, self._column(definition, ProcessDefinition.files))
        return files

    def form_schema(self, definition: ProcessDefinition, form: str | None) -> dict | None:
        """The parsed JSON Schema of ``form`` in ``definition`` (cached; callers must not mutate it)."""
        if not form:
            return None
        key = (definition.id, form)
        schema = self._forms.get(key)
        if schema is None:
            schema = self._forms.setdefault(key, form_schema(definition, form, self.files(definition)))
        return schema

    def new_workflow(self, definition: ProcessDefinition) -> BpmnWorkflow:
        spec, subs = self.of(definition)
        return BpmnWorkflow(spec, subs, script_engine=self.script_engine)

    def restore(self, row: Case) -> BpmnWorkflow:
        """The live workflow of a case row (its state on the cached specs of its version)."""
        spec, subs = self.of(row.definition)
        return self.serializer.load_state(row.state, spec, subs, self.script_engine)

    def user_tasks(self, definition: ProcessDefinition) -> list[dict]:
        """The tasks people do in this version, in its process and every process it calls."""
        spec, subs = self.of(definition)
        return [element(t, sp.name) for sp in [spec, *subs.values()] for t in sp.task_specs.values()
                if getattr(t, "manual", False)]

    def element(self, definition: ProcessDefinition, element_id: str):
        """The task spec of ``element_id`` in the definition or one of its sub-processes, else None."""
        spec, subs = self.of(definition)
        for sp in [spec, *subs.values()]:
            ts = sp.task_specs.get(element_id)
            if ts is not None:
                return ts
        return None

    def visible_variables(self, definition: ProcessDefinition, roles) -> set[str]:
        """Case variables a non-staff user may read, as the diagram draws it: the engine's own variables,
        the fields of forms in the lanes of their roles, and what tasks share with their roles
        (``shareWith``: the task's form fields, plus ``shareVariables`` for script/rule outputs)."""
        key = (definition.id, frozenset(roles))
        cached = self._visibility.get(key)
        if cached is not None:
            return cached
        spec, subs = self.of(definition)
        visible = set(ENGINE_VARIABLES)
        for sp in [spec, *subs.values()]:
            for ts in sp.task_specs.values():
                props = properties(ts)
                shared = {r.strip() for r in props.get(SHARE_WITH, "").split(",") if r.strip()}
                # the forms of their lanes' tasks, and the start form of a process their role starts
                filled = getattr(ts, "manual", False) or type(ts).__name__ == "StartEvent"
                mine = (filled and ts.lane in roles) or bool(shared & set(roles))
                if not mine:
                    continue
                form = props.get(FORM)
                if form and form in self.files(definition):
                    visible |= set((self.form_schema(definition, form) or {}).get("properties", {}))
                if shared & set(roles):
                    visible |= {v.strip() for v in props.get(SHARE_VARIABLES, "").split(",") if v.strip()}
        self._visibility[key] = visible
        return visible

    def staff_only_variables(self, definition: ProcessDefinition) -> frozenset[str]:
        """Variables any task of the definition declares ``staffOnlyVariables`` (comma-separated)."""
        out = self._staff_only.get(definition.id)
        if out is None:
            spec, subs = self.of(definition)
            names: set[str] = set()
            for sp in [spec, *subs.values()]:
                for ts in sp.task_specs.values():
                    names |= set(split_list(properties(ts).get(STAFF_ONLY_VARIABLES)))
            out = self._staff_only.setdefault(definition.id, frozenset(names))
        return out

    def _column(self, definition: ProcessDefinition, column):
        state = sa.inspect(definition)
        if column.key not in state.unloaded:
            return getattr(definition, column.key)
        with self.db.read() as s:
            return s.scalar(sa.select(column).where(ProcessDefinition.id == definition.id))


def element(spec, process: str | None = None) -> dict:
    """An element of a process as people read it: id, name, type, lane, and its form if it has one."""
    out = {"element_id": spec.bpmn_id, "name": spec.bpmn_name, "type": type(spec).__name__,
           "lane": getattr(spec, "lane", None)}
    if process is not None:
        out["process"] = process
    form = properties(spec).get(FORM)
    if form:
        out["form"] = form
    return out
