"""Linked cases started by a person: a coordinator's for-cause audit joins the laboratory's accreditation
exactly as an audit that accreditation's own diagram starts (after a change notification, or when a periodic
audit is due).

What links such a case is read from the diagrams, not from Python: a process started by a message (its
``start_message``, e.g. ``surveillance_audit_due``) is started by the cases whose diagrams throw that
message, each throw event carrying a payload (``messagePayload``, a dict of keys to variables). The keys
that every such throw event fills from the same variable are the link (for the shipped library:
``accreditation_case_id``, ``certificate_number``, ``organisation_name``, ``scope``); the organisation's case
that can throw the message *now* — the part of its diagram holding those throw events is running (the
maintenance phase of an awarded accreditation) — is the parent. The new case is then started by the same
code that starts one from a thrown message (:meth:`engine.cases.operation.Operation.start_linked`): the parent's
organisation, ``parent_case_id``, and ``case.linked_started`` in the parent's history.
"""
from __future__ import annotations

import ast

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import ThrowingEvent
from SpiffWorkflow.util.task import TaskState

from engine.errors import InvalidFormData
from engine.storage.models import Case, Organisation, ProcessDefinition
from engine.workflow.workflow_state import latest_data
from engine.workflow.workflow_state import all_tasks

_LIVE = (TaskState.READY, TaskState.WAITING, TaskState.STARTED)


def payload_variables(expression: str | None) -> dict[str, str] | None:
    """``{"key": variable}`` of a payload written as a dict literal (keys filled from a plain variable
    only); None for any other expression."""
    try:
        tree = ast.parse((expression or "").strip(), mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(tree, ast.Dict):
        return None
    return {k.value: v.id for k, v in zip(tree.keys, tree.values)
            if isinstance(k, ast.Constant) and isinstance(k.value, str) and isinstance(v, ast.Name)}


def throwers(engine, definition: ProcessDefinition, message: str) -> tuple[set[str], dict[str, str]]:
    """(the specs holding a throw event of ``message``, the link those events share) of a definition."""
    spec, subs = engine.specs.of(definition)
    holders, links = set(), []
    for sp in [spec, *subs.values()]:
        for ts in sp.task_specs.values():
            event = getattr(ts, "event_definition", None)
            if not isinstance(ts, ThrowingEvent) or not isinstance(event, MessageEventDefinition) \
                    or event.name != message:
                continue  # throwing: intermediate throw and end events, send tasks
            holders.add(sp.name)
            links.append(payload_variables(getattr(event, "expression", None)) or {})
    shared = dict(links[0]) if links else {}
    for link in links[1:]:
        shared = {k: v for k, v in shared.items() if link.get(k) == v}
    return holders, shared


def find_parent(engine, s, starter: ProcessDefinition, organisation_id: str,
                case_id: str | None = None) -> tuple[Case, dict]:
    """The organisation's running case that starts ``starter`` cases now (the latest, or ``case_id``), and
    the link payload its diagram gives them. 422 naming the organisation when it has none."""
    org = s.get(Organisation, organisation_id)
    name = org.name if org is not None else organisation_id
    stmt = sa.select(Case).where(Case.organisation_id == organisation_id, Case.status == "running")
    if case_id:
        stmt = stmt.where(Case.id == case_id)
    for row in s.scalars(stmt.order_by(Case.created_at.desc(), Case.id)):
        if not starter.start_message:
            break
        holders, link = throwers(engine, row.definition, starter.start_message)
        if not holders:
            continue
        wf = engine.specs.restore(row)
        if not any(t.state in _LIVE and t.workflow.spec.name in holders for t in all_tasks(wf)):
            continue  # not (or no longer) in the phase that starts such cases: e.g. not awarded yet
        data = latest_data(wf)
        return row, {key: data.get(variable) for key, variable in link.items()}
    if case_id:
        raise InvalidFormData(f"{name} has no accreditation to audit in case {case_id} (it is not a running, "
                              f"awarded accreditation of {name})",
                              [{"field": "/accreditation_case_id", "message": "not a running accreditation of "
                                                                             "this organisation"}],
                              organisation_id=organisation_id)
    raise InvalidFormData(f"{name} has no accreditation to audit",
                          [{"field": "/organisation_id", "message": f"{name} has no running, awarded accreditation"}],
                          organisation_id=organisation_id)
