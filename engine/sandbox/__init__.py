"""The sandbox for diagram code (scripts, conditions, timers, DMN, multi-instance, assignee expressions).

Two layers, both always on (see ``docs/security.md``, "Diagram code"):

1. **Language**: RestrictedPython plus our policy (:mod:`.policy`), a small set of builtins and module
   views (:mod:`.namespace`), and size guards in front of every C call that can blow up (:mod:`.guards`).
2. **Process**: anything not bounded by construction (:mod:`.fastpath`) runs in a pre-started worker
   process (:mod:`.worker`, :mod:`.pool`) with ``RLIMIT_AS``/``RLIMIT_CPU`` and a hard kill; task data
   crosses as plain JSON (:mod:`.plain`).

Public API: :func:`make_script_engine` (the engine's ``PythonScriptEngine``), :func:`lint` (deploy-time
checks) and the exceptions.
"""
from __future__ import annotations

from .environment import DEFAULT_TIME_LIMIT, IsolatedEnvironment, RestrictedEnvironment, make_script_engine
from .errors import NonJsonData, SandboxViolation, ScriptMemoryLimit, ScriptTimeout
from .limits import MAX_INT_BITS, MAX_SEQUENCE_LENGTH
from .namespace import SANDBOX_BUILTINS
from .policy import compile_restricted_code, lint

__all__ = [
    "DEFAULT_TIME_LIMIT", "MAX_INT_BITS", "MAX_SEQUENCE_LENGTH", "IsolatedEnvironment", "NonJsonData",
    "RestrictedEnvironment", "SANDBOX_BUILTINS", "SandboxViolation", "ScriptMemoryLimit", "ScriptTimeout",
    "compile_restricted_code", "lint", "make_script_engine",
]
