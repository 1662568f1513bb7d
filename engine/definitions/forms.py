"""Form data checks: the task's JSON Schema (from the definition version the case runs on), the
``user:<role>`` format, and attachment ids that must belong to the case. Every error names its field."""
from __future__ import annotations


import functools
import re
from contextvars import ContextVar

import jsonschema
import sqlalchemy as sa
from referencing.exceptions import Unresolvable
from sqlalchemy.orm import Session

from engine.errors import InvalidFormData, ProcessError
from engine.storage.models import ProcessDefinition
from engine.sandbox.patterns import form_validator


def form_schema(definition: ProcessDefinition, form: str | None, files: dict | None = None) -> dict | None:
    """The parsed JSON Schema ``form`` of ``definition`` (``files``: its files, if the caller has them cached)."""
    import json

    if not form:
        return None
    text = (files if files is not None else definition.files).get(form)
    if text is None:
        raise ProcessError(f"form '{form}' is not part of definition {definition.key} v{definition.version}")
    return as_object(json.loads(text))


def as_object(parsed) -> dict | None:
    """A form or UI schema as the engine reads it: a JSON object. Deploy refuses anything else; a version
    deployed before that was refused reads safely: ``true`` / ``false`` as the schemas that take anything /
    nothing, any other value (a UI schema ``[1, 2]``, ``"hello"``, ``1e308``) as no schema."""
    if parsed is True:
        return {}
    if parsed is False:
        return {"not": {}}
    return parsed if isinstance(parsed, dict) else None


def checked_errors(validator, data, form: str | None, **where) -> list:
    """Every ``ValidationError`` of ``data``, or — when the form itself cannot be applied (a ``$ref`` that
    resolves to nothing or outside the form, references looping for ever) — a :class:`ProcessError` naming the
    form (and ``where``: the element), never an exception from inside jsonschema."""
    try:
        return sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    except Unresolvable as exc:
        reason = f"its reference {str(getattr(exc, 'ref', '') or '')!r} resolves to nothing inside the form"
    except RecursionError:
        reason = "its references loop without end"
    raise ProcessError(f"form '{form}' cannot be applied: {reason}; the process definition must be corrected",
                       form=form, **where)


#: the session that ``user:<role>`` format checks read, for the validation under way (validators are shared)
_SESSION: ContextVar[Session | None] = ContextVar("accredit_form_session", default=None)


def _holds_role(role: str):
    from engine.storage.models import User, UserRole

    def holds(value) -> bool:
        session = _SESSION.get()
        if not isinstance(value, str) or session is None:  # no database to ask: not checked
            return True
        return bool(session.scalar(sa.select(sa.func.count(User.id)).join(UserRole).where(
            User.username == value, User.active.is_(True), UserRole.role == role)))
    return holds


_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")


@functools.cache
def _format_checker() -> jsonschema.FormatChecker:
    """Standard formats (date, …) plus ``user:<role>``: the value must be the username of an active user
    holding that role — so a form cannot assign an inspection to someone who cannot do it."""
    from engine.vocabulary import ROLES

    checker = jsonschema.FormatChecker()
    # an ISO 8601 period as the diagrams' timers read them ("P30D", "P6M", "PT36H"); jsonschema checks this
    # format only with an optional package, so the check is the engine's own
    checker.checks("duration")(lambda value: not isinstance(value, str) or bool(_DURATION.fullmatch(value)))
    for role in ROLES:
        checker.checks(f"user:{role}")(_holds_role(role))
    return checker


#: compiled validators by schema object (the engine caches each form's parsed schema per definition version);
#: the schema is kept with its validator so an id is never reused for another schema while cached
_VALIDATORS: dict[int, tuple[dict, object]] = {}
_MAX_VALIDATORS = 512


def _validator(schema: dict):
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_VALIDATORS) >= _MAX_VALIDATORS:
        _VALIDATORS.clear()
    validator = form_validator(schema, _format_checker())  # patterns on RE2: linear time
    _VALIDATORS[id(schema)] = (schema, validator)
    return validator


def validate_form(schema: dict | None, form: str | None, data: dict, task, session=None) -> None:
    """Check ``data`` against the task's form ``schema`` (parsed, from the case's definition version; callers
    must not mutate it: its compiled validator is cached). ``session``: where ``user:<role>`` values are
    looked up."""
    label = task.task_spec.bpmn_name or task.task_spec.bpmn_id
    if schema is None:
        if data:
            raise InvalidFormData(f"task '{label}' takes no data",
                                  [{"field": f"/{k}", "message": "unexpected field"} for k in data])
        return
    token = _SESSION.set(session)
    try:
        found = checked_errors(_validator(schema), data, form, element_id=task.task_spec.bpmn_id)
    finally:
        _SESSION.reset(token)
    errors = []
    for err in found:
        path = "/" + "/".join(str(p) for p in err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            for missing in err.validator_value:
                if missing not in err.instance:
                    errors.append({"field": path.rstrip("/") + "/" + missing, "message": "is required"})
            continue
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            for extra in err.instance:
                if extra not in allowed:
                    errors.append({"field": path.rstrip("/") + "/" + extra, "message": "is not a field of this form"})
            continue
        if err.validator == "format" and str(err.validator_value).startswith("user:"):
            role = str(err.validator_value)[5:]
            errors.append({"field": path, "message": f"no active user '{err.instance}' holds the role {role}"})
            continue
        if err.validator == "format" and err.validator_value == "duration":
            errors.append({"field": path, "message": f"'{err.instance}' is not a duration (e.g. P30D: 30 days)"})
            continue
        errors.append({"field": path, "message": err.message})
    if errors:
        raise InvalidFormData(f"the data for task '{label}' does not satisfy its form ({form})", errors, form=form)


def _attachment_refs(value, path=""):
    """(json pointer, sha256) of every attachment id in form data: any field whose name mentions
    'attachment' holding a SHA-256 string or a list of them."""
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{path}/{k}"
            if "attachment" in k and isinstance(v, str):
                yield p, v
            elif "attachment" in k and isinstance(v, list):
                yield from ((f"{p}/{i}", x) for i, x in enumerate(v) if isinstance(x, str))
            else:
                yield from _attachment_refs(v, p)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _attachment_refs(v, f"{path}/{i}")


def check_attachments(s: Session, case_id: str, data: dict) -> None:
    from engine.storage.models import Attachment

    refs = list(_attachment_refs(data))
    if not refs:
        return
    known = set(s.scalars(sa.select(Attachment.sha256).where(Attachment.case_id == case_id,
                                                             Attachment.sha256.in_({r for _, r in refs}))))
    errors = [{"field": p, "message": "no attachment with this id was uploaded to this case"}
              for p, r in refs if r not in known]
    if errors:
        raise InvalidFormData("the form refers to files that are not attached to this case", errors)
