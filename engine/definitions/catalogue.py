"""What a person may start: the processes whose start event lies in a lane of one of their roles, and the
messages a diagram lets their role send into a waiting case (a laboratory's change notification).

Everything comes from the deployed diagrams, never from Python:

* a process is startable by role R when its (none) start event is in lane R. Processes started by a message
  (surveillance audit, annual report, renewal) or only called from another process (inspection) are not
  offered, nor is a process whose start event has the property ``calledOnly`` (inspection: only ever called
  by accreditation or a surveillance audit, with its team in the data) — people do not start them by hand.
* a message catch event with the property ``sentBy`` (comma-separated roles) is offered to those roles, with
  its ``formJsonSchemaFilename`` (and ``formUiSchemaFilename``) as the form of what they send.
* the description is the ``bpmn:documentation`` of the process (or of the catch event), so a quality manager
  words the first screen a new laboratory sees without a code change.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition

from engine.actors import Actor
from engine.definitions.forms import as_object
from engine.storage.models import ProcessDefinition
from engine.vocabulary import CALLED_ONLY, FORM, SENT_BY, UI_FORM, split_list
from engine.workflow.workflow_state import properties

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def startable(engine, actor: Actor) -> dict:
    """``{"processes": [...], "messages": [...]}`` the actor may start / send, latest versions only."""
    with engine.db.read() as s:
        latest = sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("v")) \
            .group_by(ProcessDefinition.key).subquery()
        rows = s.scalars(sa.select(ProcessDefinition).join(
            latest, sa.and_(ProcessDefinition.key == latest.c.key, ProcessDefinition.version == latest.c.v))
            .order_by(ProcessDefinition.key)).all()
        specs = {}
        for row in rows:
            spec, subs = engine.specs.of(row)
            specs[row.key] = (row, spec, subs)
        processes, messages, seen = [], [], set()
        for key, (row, spec, subs) in specs.items():
            docs = _documentation(row.files)
            starts = spec.bpmn_start_events
            lanes = {st.lane for st in starts}
            called_only = any(properties(st).get(CALLED_ONLY, "").lower() == "true" for st in starts)
            if (not called_only and row.start_message is None and len(lanes) == 1 and None not in lanes
                    and lanes & actor.roles):
                start = starts[0]
                processes.append({"key": key, "name": row.name or key, "version": row.version,
                                  "role": start.lane, "description": docs.get(key),
                                  **_form(row.files, properties(start))})
            for sp in [spec, *subs.values()]:
                for ts in sp.task_specs.values():
                    event = getattr(ts, "event_definition", None)
                    props = properties(ts)
                    roles = set(split_list(props.get(SENT_BY)))
                    if not isinstance(event, MessageEventDefinition) or not roles & actor.roles:
                        continue
                    if (event.name, ts.bpmn_id) in seen:  # a called process comes along in its callers' specs
                        continue
                    seen.add((event.name, ts.bpmn_id))
                    form = _form(row.files, props)
                    title = (form["form"] or {}).get("title")  # "Change notification", not the event's "Change notified"
                    messages.append({"message": event.name, "name": title or ts.bpmn_name or event.name,
                                     "process_key": key, "element_id": ts.bpmn_id,
                                     "description": docs.get(ts.bpmn_id), **form})
        return {"processes": processes, "messages": messages}


def _form(files: dict, props: dict) -> dict:
    out = {"form": None, "ui_schema": None}
    for attr, prop in (("form", FORM), ("ui_schema", UI_FORM)):
        name = props.get(prop)
        if name and name in files:
            out[attr] = as_object(json.loads(files[name]))  # an object, whatever an old version holds
    return out


def _documentation(files: dict) -> dict[str, str]:
    """element id -> its first ``bpmn:documentation`` text, over every BPMN file of the version."""
    out: dict[str, str] = {}
    for name, text in files.items():
        if not name.endswith(".bpmn"):
            continue
        root = etree.fromstring(text.encode("utf-8"))
        for doc in root.iter(f"{_BPMN}documentation"):
            owner = doc.getparent().get("id")
            if owner and owner not in out and (doc.text or "").strip():
                out[owner] = " ".join(doc.text.split())
    return out
