"""A case's diagram, and the diagrams of the processes it calls: the BPMN of one process of the definition
version the case runs on, with the state of each of its elements in this case.

A case runs one process; a call activity runs another (its ``calledElement``), which may call further
processes. Every diagram process (the case's own, and each one reachable through call activities) is shown
on its own, keyed by its process id — never by per-process code. An embedded sub-process is drawn inside
its parent's diagram, so its elements belong to the diagram process that contains it.

Which process an event's element belongs to: the task it names, when the workflow still holds it (the
task's sub-workflow); else the inbox row of a person's task (its ``process_key``); else — a finished task
that pruning removed (:mod:`engine.workflow.pruning`) — the diagram processes whose specs have an element of that
id and name (element ids are unique within a process; when several processes share an id and a name, each
is marked).
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from engine.reports.audit import element_states
from engine.errors import NotFound
from engine.storage.models import Case, Event, HumanTask
from engine.workflow.workflow_state import all_tasks, element_type

_LIVE = (TaskState.READY, TaskState.WAITING, TaskState.STARTED)
#: elements marked waiting from the workflow itself (a person's task is marked from its task.ready event)
_WAITING_TYPES = frozenset({"CallActivity", "IntermediateCatchEvent", "ReceiveTask"})


class Structure:
    """The processes of one definition version: who calls what, and which spec belongs to which diagram."""

    def __init__(self, spec, subs: dict):
        self.root = spec.name
        self.specs = {spec.name: spec, **subs}
        self.embedded_in: dict[str, str] = {}  # embedded sub-process spec -> the spec that contains it
        raw_calls: dict[str, list] = {}
        for sp in self.specs.values():
            for ts in sp.task_specs.values():
                target = getattr(ts, "spec", None)
                if not isinstance(target, str) or getattr(ts, "bpmn_id", None) is None:
                    continue
                if element_type(ts) == "CallActivity":
                    raw_calls.setdefault(sp.name, []).append(ts)
                else:
                    self.embedded_in[target] = sp.name
        self.calls: dict[str, list] = {}  # diagram process -> its call activity specs (embedded ones included)
        for name, specs in raw_calls.items():
            self.calls.setdefault(self.owner(name), []).extend(specs)
        self.reachable = {self.root}
        frontier = [self.root]
        while frontier:
            for call in self.calls.get(frontier.pop(), []):
                if call.spec not in self.reachable and call.spec in self.specs:
                    self.reachable.add(call.spec)
                    frontier.append(call.spec)
        self.elements: dict[str, set[str]] = {}  # element id -> diagram processes with such an element
        self.named: dict[tuple, set[str]] = {}  # (element id, name) -> diagram processes with such an element
        for name, sp in self.specs.items():
            for ts in sp.task_specs.values():
                if getattr(ts, "bpmn_id", None) is not None:
                    self.elements.setdefault(ts.bpmn_id, set()).add(self.owner(name))
                    self.named.setdefault((ts.bpmn_id, ts.bpmn_name), set()).add(self.owner(name))

    def holders(self, element_id: str, element_name: str | None) -> set[str]:
        """The diagram processes an element of a finished (pruned) task belongs to: by id, narrowed by its
        name when several processes share the id (each phase of a split library has its own 'start')."""
        by_id = self.elements.get(element_id, set())
        if len(by_id) < 2:
            return by_id
        return self.named.get((element_id, element_name)) or by_id

    def owner(self, spec_name: str) -> str:
        """The diagram process a spec is drawn in (an embedded sub-process: the process containing it)."""
        seen = set()
        while spec_name in self.embedded_in and spec_name not in seen:
            seen.add(spec_name)
            spec_name = self.embedded_in[spec_name]
        return spec_name


def process_file(files: dict[str, str], process_id: str) -> tuple[str, str] | None:
    """(file name, XML) of the BPMN file of the definition that holds ``<process id=process_id>`` (the files
    were validated at deployment: a text search finds the element without parsing every file per read)."""
    pattern = re.compile(r"<(?:[\w.-]+:)?process\b[^>]*?\sid\s*=\s*[\"']" + re.escape(process_id) + r"[\"']")
    for name in sorted(files):
        text = files[name]
        if name.endswith(".bpmn") and isinstance(text, str) and pattern.search(text):
            return name, text
    return None


def case_diagram(engine, s, row: Case, wf, process: str | None) -> dict:
    """The diagram of ``process`` (default: the case's own) in case ``row`` (workflow ``wf``) with the state
    of its elements (:func:`engine.reports.audit.element_states` over the events of that process). 404 for a process the case's definition does not reach through call activities."""
    spec, subs = engine.specs.of(row.definition)
    structure = Structure(spec, subs)
    shown = process or structure.root
    if shown not in structure.reachable:
        raise NotFound(f"the process '{shown}' is not called in case {row.business_key} "
                       f"(process {row.process_key}, version {row.definition.version})",
                       process=shown, errors=[{"field": "/process", "message": "no call activity runs this process"}])
    found = process_file(engine.specs.files(row.definition), shown)
    # which diagram process each task of the case belongs to
    task_process: dict[str, set[str]] = {}
    # what waits now in the shown process without a person's task: call activities running, and events
    # waiting for a timer or a message (their events only say when they completed)
    live: dict[str, tuple] = {}  # element id -> (name, type)
    if wf is not None:
        for task in all_tasks(wf):
            owner = structure.owner(task.workflow.spec.name)
            task_process[str(task.id)] = {owner}
            kind = element_type(task.task_spec)
            if owner == shown and task.state in _LIVE and kind in _WAITING_TYPES:
                live[task.task_spec.bpmn_id] = (getattr(task.task_spec, "bpmn_name", None), kind)
    for tid, key in s.execute(sa.select(HumanTask.id, HumanTask.process_key).where(HumanTask.case_id == row.id)):
        task_process.setdefault(tid, {structure.owner(key)})
    events = s.scalars(sa.select(Event).where(Event.case_id == row.id, Event.element_id.is_not(None))
                       .order_by(Event.seq)).all()

    def owners(e: Event):
        if e.task_id and e.task_id in task_process:
            return task_process[e.task_id]
        return structure.holders(e.element_id, e.element_name)

    mine = [e for e in events if shown in owners(e)]
    elements = element_states(mine)
    by_id = {e["element_id"]: e for e in elements}
    for element_id, (element_name, kind) in live.items():
        el = by_id.get(element_id)
        if el is None:
            el = by_id[element_id] = {"element_id": element_id, "element_name": element_name,
                                      "element_type": kind, "state": None, "active": 0, "times_completed": 0,
                                      "first_completed_at": None, "last_completed_at": None, "completions": []}
            elements.append(el)
        el["active"] += 1
        el["state"] = "error" if el["state"] == "error" else "active"
    calls = [{"element_id": c.bpmn_id, "element_name": c.bpmn_name, "called_element": c.spec,
              "state": (by_id.get(c.bpmn_id) or {}).get("state")}
             for c in structure.calls.get(shown, []) if c.spec in structure.reachable]
    name = getattr(structure.specs.get(shown), "description", None)
    return {"case_id": row.id, "business_key": row.business_key, "root_process": structure.root,
            "process": shown, "process_name": name or shown, "definition_key": row.process_key,
            "definition_version": row.definition.version,
            "file": found[0] if found else None, "xml": found[1] if found else None,
            "elements": elements, "calls": sorted(calls, key=lambda c: c["element_id"])}
