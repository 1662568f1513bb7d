"""Errors the engine raises to its callers.

Each carries what a user needs to fix the problem (the field, the BPMN element, the file and line) so the
HTTP layer can turn it into an RFC 9457 problem document without knowing anything about SpiffWorkflow.
"""
from __future__ import annotations


class EngineError(Exception):
    """Base class. ``kind`` is a stable machine-readable code."""

    kind = "engine-error"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, **self.details}


class NotFound(EngineError):
    kind = "not-found"


class Forbidden(EngineError):
    """The actor may not do this (wrong role, other organisation, not the assignee, separation of duties)."""

    kind = "forbidden"


class Conflict(EngineError):
    """The thing changed under the caller: task no longer ready, case updated concurrently."""

    kind = "conflict"


class InvalidFormData(EngineError):
    """Submitted data does not satisfy the task's JSON Schema. ``errors`` lists one entry per field."""

    kind = "invalid-form-data"

    def __init__(self, message: str, errors: list[dict], **details):
        super().__init__(message, errors=errors, **details)
        self.errors = errors


class TooLarge(EngineError):
    """An upload over the configured size limit."""

    kind = "payload-too-large"


class ProcessError(EngineError):
    """A diagram step failed at run time (script error, sandbox refusal, time limit). Nothing was saved."""

    kind = "process-error"


class DefinitionInvalid(EngineError):
    """A process library / bundle failed validation. ``problems`` lists every error found."""

    kind = "definition-invalid"

    def __init__(self, message: str, problems: list, **details):
        super().__init__(message, problems=[p.to_dict() for p in problems], **details)
        self.problems = problems
