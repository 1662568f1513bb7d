"""What a person may start a case with: only what the diagram declares.

A case started by a person (``POST /api/cases``) may carry starting data only as the start event's form
declares it (``formJsonSchemaFilename`` on the start event, validated like any task form); a start event with
no form takes no data at all. Anything else is a 422 naming each field — so nobody can pre-set a certificate
number, a membership flag or a reviewer's decision that a later form would then show pre-filled. A process
whose start event says ``calledOnly`` (the inspection: only ever called by accreditation or an audit, with its
team in the data) is refused as a start, and a case for an organisation that does not exist is refused.

Cases started by the engine itself (a message start from another case) are not people's starts: their data
comes from the diagram that threw the message.
"""
from __future__ import annotations

import jsonschema

from SpiffWorkflow.bpmn.specs.defaults import StartEvent

from engine.definitions.forms import checked_errors
from engine.errors import Forbidden, InvalidFormData, NotFound
from engine.sandbox.patterns import form_validator
from engine.storage.models import Organisation, ProcessDefinition
from engine.vocabulary import CALLED_ONLY, FORM, SENT_BY, split_list
from engine.workflow.workflow_state import properties


def field_errors(schema: dict, value, prefix: str, unexpected: str, form: str | None = None) -> list[dict]:
    """Every way ``value`` misses ``schema`` (the form ``form``), one entry per field (JSON pointer under
    ``prefix``). References resolve inside the form only, patterns run on RE2 (engine.sandbox.patterns)."""
    validator = form_validator(schema, jsonschema.FormatChecker())
    errors = []
    for err in checked_errors(validator, value, form):
        path = prefix + "".join(f"/{p}" for p in err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            errors += [{"field": f"{path}/{k}", "message": unexpected} for k in err.instance if k not in allowed]
        elif err.validator == "required" and isinstance(err.instance, dict):
            errors += [{"field": f"{path}/{k}", "message": "is required"}
                       for k in err.validator_value if k not in err.instance]
        else:
            errors.append({"field": path, "message": err.message})
    return errors


def start_properties(engine, definition: ProcessDefinition) -> dict:
    spec, _ = engine.specs.of(definition)
    merged: dict = {}
    for start in spec.bpmn_start_events:
        merged.update(properties(start))
    return merged


def check_organisation(s, organisation_id: str | None) -> None:
    if organisation_id is not None and s.get(Organisation, organisation_id) is None:
        raise InvalidFormData(f"there is no organisation '{organisation_id}'",
                              [{"field": "/organisation_id", "message": "no such organisation"}])


def check_declared_start(engine, s, definition: ProcessDefinition, organisation_id: str | None,
                         data: dict) -> None:
    """Refuse a person's start that the diagram does not declare (see the module docstring)."""
    props = start_properties(engine, definition)
    if str(props.get(CALLED_ONLY, "")).strip().lower() == "true":
        raise Forbidden(f"'{definition.key}' is started only by the processes that call it, never on its own",
                        process_key=definition.key)
    check_organisation(s, organisation_id)
    schema = engine.specs.form_schema(definition, props.get(FORM))
    if schema is None:
        if data:
            raise InvalidFormData(
                f"'{definition.key}' takes no starting data: its start event declares no form",
                [{"field": f"/data/{k}", "message": "not declared by the diagram's start form"} for k in sorted(data)])
        return
    errors = field_errors(schema, data, "/data", "not declared by the diagram's start form", props.get(FORM))
    if errors:
        raise InvalidFormData(f"the starting data does not satisfy the start form of '{definition.key}'", errors)


def _message_catchers(engine, s, name: str):
    """(definition, task spec) of every event of a deployed latest version that catches message ``name`` (a start,
    intermediate or boundary event, a receive task)."""
    import sqlalchemy as sa
    from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
    from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent

    latest = sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("v")) \
        .group_by(ProcessDefinition.key).subquery()
    rows = s.scalars(sa.select(ProcessDefinition).join(
        latest, sa.and_(ProcessDefinition.key == latest.c.key, ProcessDefinition.version == latest.c.v))
        .order_by(ProcessDefinition.key)).all()
    for row in rows:
        spec, subs = engine.specs.of(row)
        for sp in (spec, *subs.values()):
            for ts in sp.task_specs.values():
                event = getattr(ts, "event_definition", None)
                if isinstance(ts, CatchingEvent) and isinstance(event, MessageEventDefinition) and event.name == name:
                    yield row, ts


def message_form(engine, s, name: str) -> tuple[ProcessDefinition, str] | None:
    """(definition, form file) of the catch event that declares what people send as message ``name``
    (``formJsonSchemaFilename`` on a message catch event of a deployed latest version), if any."""
    for row, ts in _message_catchers(engine, s, name):
        form = properties(ts).get(FORM)
        if form:
            return row, form
    return None


def check_message_sender(engine, s, actor, name: str) -> None:
    """A person sends message ``name`` into waiting cases only where the diagram lets one of their roles: a
    catch event (intermediate, boundary, receive task) of a deployed latest version that catches it and names
    the role in ``sentBy``. A message no such event catches is a 404; one the diagrams catch without naming
    the sender's role — a message one case throws to another (a child's result to its parent) — is a 403:
    nobody forges it from outside."""
    catchers = [ts for _, ts in _message_catchers(engine, s, name) if not isinstance(ts, StartEvent)]
    if not catchers:
        raise NotFound(f"no process waits for the message '{name}' from people", message_name=name)
    roles = set()
    for ts in catchers:
        roles.update(split_list(properties(ts).get(SENT_BY)))
    if not roles & actor.roles:
        who = ", ".join(sorted(roles)) if roles else "nobody: the processes send it to each other"
        raise Forbidden(f"the diagrams do not let your roles send the message '{name}' (sentBy: {who})",
                        message_name=name)


def check_declared_message(engine, s, name: str, payload: dict) -> None:
    """A message a person sends carries what its catch event's form declares, checked on the server (the page
    checks it too, but the API is the boundary): each field at fault is named under ``/payload``."""
    found = message_form(engine, s, name)
    if found is None:
        return
    definition, form = found
    schema = engine.specs.form_schema(definition, form)
    errors = field_errors(schema, payload, "/payload", "not a field of this form", form)
    if errors:
        raise InvalidFormData(f"the message '{name}' does not satisfy its form ({form})", errors)
