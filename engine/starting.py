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

from .errors import Forbidden, InvalidFormData
from .models import Organisation, ProcessDefinition
from .workflow_state import properties


def start_properties(engine, definition: ProcessDefinition) -> dict:
    spec, _ = engine._specs_for(definition)
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
    if str(props.get("calledOnly", "")).strip().lower() == "true":
        raise Forbidden(f"'{definition.key}' is started only by the processes that call it, never on its own",
                        process_key=definition.key)
    check_organisation(s, organisation_id)
    schema = engine.form_schema(definition, props.get("formJsonSchemaFilename"))
    if schema is None:
        if data:
            raise InvalidFormData(
                f"'{definition.key}' takes no starting data: its start event declares no form",
                [{"field": f"/data/{k}", "message": "not declared by the diagram's start form"} for k in sorted(data)])
        return
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        path = "/data" + "".join(f"/{p}" for p in err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            errors += [{"field": f"{path}/{k}", "message": "not declared by the diagram's start form"}
                       for k in err.instance if k not in allowed]
        elif err.validator == "required" and isinstance(err.instance, dict):
            errors += [{"field": f"{path}/{k}", "message": "is required"}
                       for k in err.validator_value if k not in err.instance]
        else:
            errors.append({"field": path, "message": err.message})
    if errors:
        raise InvalidFormData(f"the starting data does not satisfy the start form of '{definition.key}'", errors)
