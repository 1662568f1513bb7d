"""What diagram code can fail with, as seen by the engine.

The engine (``engine/cases/operation.py``) walks an exception's cause chain for :class:`SandboxViolation` and
:class:`ScriptTimeout` and reports the class name as the problem's ``sandbox`` detail; the subclasses below
keep those two families so callers need not know every kind.
"""
from __future__ import annotations


class SandboxViolation(Exception):
    """Diagram code tried something the sandbox does not allow.

    ``problems`` lists every refused construct (one message each, with its line number when known);
    ``str(exc)`` joins them.
    """

    def __init__(self, message: str | list[str]):
        problems = [message] if isinstance(message, str) else list(message)
        self.problems = problems
        super().__init__("; ".join(problems))


class NonJsonData(SandboxViolation):
    """Diagram code left (or returned) a value that is not plain JSON data: a function, a class, an object,
    a set… Task data crosses the sandbox boundary as JSON only, so nothing a diagram defines can be called
    later outside the limits."""


class ScriptMemoryLimit(SandboxViolation):
    """Diagram code needed more memory than the sandbox allows (the worker's address-space limit)."""


class ScriptTimeout(Exception):
    """Diagram code ran longer than the sandbox time limit (or its worker had to be killed)."""

    def __init__(self, message: str, time_limit: float | None = None):
        self.time_limit = time_limit
        super().__init__(message)


class Deadline(BaseException):
    """Raised inside running diagram code when its time is up.

    Deliberately a BaseException that sandboxed code cannot name: ``except Exception`` does not catch it,
    and the policy forbids bare ``except:``, ``finally:`` and the names of BaseException and its
    non-Exception subclasses, so a script cannot swallow the timeout and keep running. Converted to
    :class:`ScriptTimeout` at the sandbox boundary.
    """
