"""What the engine copies from a diagram into the database fits its column.

An element's id and name, a process's id and name, a message's name, a form's file name and the
``scheduleKind`` / ``signatureMeaning`` properties are written to bounded columns (inbox rows, history events,
timers, message waits, the definition). SQLite ignores the bound; PostgreSQL refuses the row — so a diagram with
a 500-character task name deployed without complaint and then failed every case start on PostgreSQL (a 500).
Each is refused at deploy, naming the element and the limit, which is read from the column itself.
"""
from __future__ import annotations

from lxml import etree

from engine.storage.models import CaseMember, Event, HumanTask, MessageSubscription, ProcessDefinition, Timer
from engine.vocabulary import CASE_TEAM

from .validation import Problem

_ID = min(Event.__table__.c.element_id.type.length, HumanTask.__table__.c.element_id.type.length,
          ProcessDefinition.__table__.c.key.type.length)
_NAME = min(Event.__table__.c.element_name.type.length, HumanTask.__table__.c.name.type.length,
            Timer.__table__.c.name.type.length, ProcessDefinition.__table__.c.name.type.length)
_MESSAGE = min(MessageSubscription.__table__.c.name.type.length, ProcessDefinition.__table__.c.start_message.type.length)
_TEAM_ROLE = CaseMember.__table__.c.role.type.length
#: spiffworkflow:property name -> the longest value its column holds
_PROPERTIES = {
    "scheduleKind": Timer.__table__.c.kind.type.length,
    "signatureMeaning": HumanTask.__table__.c.signature_meaning.type.length,
    "formJsonSchemaFilename": HumanTask.__table__.c.form.type.length,
    "formUiSchemaFilename": HumanTask.__table__.c.ui_form.type.length,
}


def too_long_to_store(name: str, root) -> list[Problem]:
    """An error for each id, name or stored property of ``root`` (a BPMN file) longer than its column."""
    problems = []
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        tag = etree.QName(node).localname
        element = node.get("id")
        checks = [("id", node.get("id"), _ID)]
        if tag == "message":
            checks.append(("name", node.get("name"), _MESSAGE))
        elif tag == "property":
            limit = _PROPERTIES.get(node.get("name") or "")
            if limit is not None:
                checks.append((f"property {node.get('name')}", node.get("value"), limit))
            elif node.get("name") == CASE_TEAM:  # each variable named becomes a team member's role
                checks += [("a variable named by caseTeam", v.strip(), _TEAM_ROLE)
                           for v in (node.get("value") or "").split(",")]
            element = _owner_id(node)
        else:
            checks.append(("name", node.get("name"), _NAME))
        for what, value, limit in checks:
            if value is not None and len(value) > limit:
                problems.append(Problem("error", f"the {what} of <{tag}> is {len(value):,} characters long; the "
                                                 f"engine stores at most {limit}", name,
                                        element if element and len(element) <= _ID else None, node.sourceline))
    return problems


def _owner_id(node) -> str | None:
    """The id of the nearest ancestor element that has one (the element a property belongs to)."""
    parent = node.getparent()
    while parent is not None and not parent.get("id"):
        parent = parent.getparent()
    return parent.get("id") if parent is not None else None
