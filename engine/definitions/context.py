"""What a person decides on: the earlier answers a task shows, read-only, next to its own form.

A task declares it in the diagram with the property ``showForms``: a comma-separated list of

* ``form.json`` — the fields of that earlier form, from the case data, rendered with that form's own schema
  and UI schema (e.g. the eligibility review shows ``eligibility_application.json``);
* ``variable`` — a case variable computed by the process (e.g. ``eligibility_result``);
* ``variable:form.json`` — a variable holding a list (or one object) of answers to that form, e.g. the
  inspectors' ``checklists:inspection_checklist.json`` collected by a multi-instance task.

A quality manager changes what a task shows without code. Nothing here widens what anyone reads: the values
come from :meth:`Workspace.case_for`, which applies the visibility rules unchanged (organisation, ``shareWith``
/ ``shareVariables``, inspectors only on their cases); a section nobody may see is left out. Internal notes
are comments, never case data, so they never appear here.
"""
from __future__ import annotations

import json

from engine.actors import Actor
from engine.definitions.forms import as_object
from engine.storage.models import Case, HumanTask
from engine.vocabulary import FORM, SHOW_FORMS, UI_FORM
from engine.workflow.workflow_state import properties


def parse_show_forms(value: str) -> list[tuple[str | None, str | None]]:
    """``"a.json, x, y:b.json"`` -> ``[(None, "a.json"), ("x", None), ("y", "b.json")]``."""
    out = []
    for entry in (e.strip() for e in (value or "").split(",")):
        if not entry:
            continue
        if ":" in entry:
            variable, form = (p.strip() for p in entry.split(":", 1))
            out.append((variable or None, form or None))
        elif entry.endswith(".json"):
            out.append((None, entry))
        else:
            out.append((entry, None))
    return out


def decision_context(engine, workspace, actor: Actor, task_id: str) -> list[dict]:
    """The sections ``showForms`` of the task names, with the values ``actor`` may read (404 if the task is not
    theirs to see). Each section: ``{"form", "variable", "title", "description", "schema", "ui_schema",
    "value"}`` — ``value`` is an object of the form's fields, or the variable's value."""
    task = workspace.task_for(actor, task_id)  # NotFound unless the actor may see the task's case
    case = workspace.case_for(actor, task.case_id)
    data = case.data or {}
    with engine.db.read() as s:
        row = s.get(HumanTask, task_id)
        definition = s.get(Case, row.case_id).definition
        spec, subs = engine.specs.of(definition)
        files = definition.files
    task_spec = None
    for sp in [spec, *subs.values()]:
        candidate = sp.task_specs.get(row.element_id)
        if candidate is not None and getattr(candidate, "bpmn_id", None) == row.element_id:
            task_spec = candidate
            break
    if task_spec is None:
        return []
    ui_of = _ui_schemas(spec, subs)
    sections = []
    for variable, form in parse_show_forms(properties(task_spec).get(SHOW_FORMS, "")):
        schema = as_object(json.loads(files[form])) if form and form in files else None
        ui_schema = as_object(json.loads(files[ui_of[form]])) if form in ui_of and ui_of[form] in files else None
        if variable is not None:
            if variable not in data:
                continue
            value = data[variable]
        else:
            if schema is None:
                continue
            value = {k: data[k] for k in schema.get("properties", {}) if k in data}
            if not value:
                continue
        sections.append({"form": form, "variable": variable,
                         "title": (schema or {}).get("title") or (variable or form).replace("_", " ").capitalize(),
                         "description": (schema or {}).get("description"),
                         "schema": schema, "ui_schema": ui_schema, "value": value})
    return sections


def _ui_schemas(spec, subs) -> dict[str, str]:
    """form file -> its UI schema file, as the tasks that use the form declare it."""
    out = {}
    for sp in [spec, *subs.values()]:
        for ts in sp.task_specs.values():
            props = properties(ts)
            if props.get(FORM) and props.get(UI_FORM):
                out.setdefault(props[FORM], props[UI_FORM])
    return out

