"""SpiffWorkflow script environments: where every piece of diagram code actually runs.

SpiffWorkflow evaluates all Python in a diagram — script tasks, pre/post scripts, gateway conditions, timer
expressions, message payloads, multi-instance expressions, DMN input/output entries — through
``PythonScriptEngine.environment``; the engine also evaluates the ``assignee`` property through it.

* :class:`IsolatedEnvironment` (what :func:`make_script_engine` builds, what the engine uses): expressions
  that are bounded by construction (:mod:`.fastpath`) run here, restricted and checked; everything else —
  every script, every expression with arithmetic, loops or other calls — runs in a sandbox worker process
  (:mod:`.pool`) under OS limits, with the task data crossing as JSON (:mod:`.plain`).
* :class:`RestrictedEnvironment`: the same policy entirely in this thread (trace-based time limit, no OS
  limits). For tests and tools; not what the engine uses.
"""
from __future__ import annotations

import ast
import builtins
import functools
import keyword
import time
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import fastpath, plain
from .errors import NonJsonData, SandboxViolation, ScriptMemoryLimit, ScriptTimeout
from .namespace import SANDBOX_BUILTINS, sandbox_globals
from .policy import FILENAME, compile_restricted_code, referenced_names
from .pool import WorkerPool, default_pool
from .results import check_result
from .timelimit import register_code, run_traced

DEFAULT_TIME_LIMIT = 2.0


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """TaskDataEnvironment semantics, RestrictedPython execution, in this thread.

    ``environment_globals`` are extra names (e.g. helper functions) made available to every script,
    exactly as with TaskDataEnvironment: they may not be shadowed by task data (``check_for_overwrite``)
    and are removed from the data after a script runs. They are trusted code.
    """

    def __init__(self, environment_globals: dict[str, Any] | None = None,
                 time_limit: float | None = DEFAULT_TIME_LIMIT):
        super().__init__(environment_globals)
        self.time_limit = time_limit

    def evaluate(self, expression, context, external_context=None):
        return self._evaluate(expression, context, external_context, self.time_limit)

    def _evaluate(self, expression, context, external_context, time_limit):
        code = register_code(compile_restricted_code(expression, "eval"))
        namespace = dict(self.globals)  # else we pollute all later evals
        namespace.update(external_context or {})
        namespace.update(context)
        namespace.update(sandbox_globals())
        return run_traced(lambda: eval(code, namespace), time_limit)

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        code = register_code(compile_restricted_code(script, "exec"))
        context.update(self.globals)
        context.update(external_context or {})
        context.update(sandbox_globals())
        try:
            run_traced(lambda: exec(code, context), self.time_limit)
        finally:
            for name in sandbox_globals():
                context.pop(name, None)
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    # Identical to TaskDataEnvironment (and kept in step with it).
    _remove_globals_and_functions_from_context = TaskDataEnvironment._remove_globals_and_functions_from_context
    check_for_overwrite = TaskDataEnvironment.check_for_overwrite


def _raise_at_line(exc: BaseException, line: int | None) -> None:
    """Raise ``exc`` from a frame that claims to be line ``line`` of the diagram code, so SpiffWorkflow
    (which looks for frames named ``<string>``) reports the failing line as it does for in-process code."""
    if not line:
        raise exc
    stub = compile("\n" * (line - 1) + "raise _exc_", FILENAME, "exec")
    exec(stub, {"_exc_": exc, "__builtins__": {}})


def _rebuild(answer: dict) -> BaseException:
    """The exception a worker reported, as an instance of the same kind."""
    kind, message = answer.get("kind", "Exception"), answer.get("message", "")
    if kind == "SyntaxError" and answer.get("syntax"):
        msg, lineno, offset, text = answer["syntax"]
        return SyntaxError(msg, (FILENAME, lineno, offset, text))
    if kind in ("SandboxViolation", "NonJsonData", "ScriptMemoryLimit"):
        cls = {"SandboxViolation": SandboxViolation, "NonJsonData": NonJsonData,
               "ScriptMemoryLimit": ScriptMemoryLimit}[kind]
        return cls(answer.get("problems") or message)
    if kind == "ScriptTimeout":
        return ScriptTimeout(message, answer.get("time_limit"))
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, (OSError, SyntaxError)):
        try:
            return cls(message)
        except Exception:  # noqa: BLE001 - exotic constructors (UnicodeDecodeError…)
            pass
    return RuntimeError(f"{kind}: {message}")


class IsolatedEnvironment(RestrictedEnvironment):
    """The engine's environment: bounded expressions in process, everything else in a worker process."""

    def __init__(self, environment_globals: dict[str, Any] | None = None,
                 time_limit: float | None = DEFAULT_TIME_LIMIT, pool: WorkerPool | None = None):
        for name, value in (environment_globals or {}).items():
            plain.check(value, f"environment global {name!r}")  # they cross to the worker as JSON too
        super().__init__(environment_globals, time_limit)
        self._pool = pool

    @property
    def pool(self) -> WorkerPool:
        return self._pool or default_pool()

    def evaluate(self, expression, context, external_context=None):
        name = fastpath.simple_name(expression)
        if name and not keyword.iskeyword(name):
            for scope in (context, external_context or {}, self.globals):
                if name in scope:
                    return plain.check(scope[name], f"the value of '{name}'")
        compile_restricted_code(expression, "eval")  # the policy's refusals, whatever the path
        bounded = fastpath.compile_bounded(expression)
        if bounded is not None:
            code, loops = bounded
            namespace = dict(self.globals)
            namespace.update(external_context or {})
            namespace.update(context)
            namespace["__builtins__"] = SANDBOX_BUILTINS
            value = run_traced(lambda: eval(code, namespace), self.time_limit if loops else None)
            return plain.check(value, "the value of the expression")
        _sent, answer = self._remote("eval", expression, context, external_context)
        return answer["value"]

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        sent, answer = self._remote("exec", script, context, external_context)
        result = answer["context"]
        for name in sent:
            if name not in result:  # ``del name`` in the script
                context.pop(name, None)
        context.update(result)
        return True

    def _remote(self, mode: str, source: str, context: dict, external_context: dict | None):
        """Run in a worker; (names of the task data sent, the answer). Only the variables the code
        mentions travel (see :func:`.policy.referenced_names`)."""
        compile_restricted_code(source, mode)  # refusals and syntax errors without a round trip
        names = referenced_names(source, mode)
        external = {k: v for k, v in self.globals.items() if k in names}
        external.update((k, v) for k, v in (external_context or {}).items() if k in names)
        sent = {k: context[k] for k in names if k in context}
        request = {"mode": mode, "code": source, "limit": self.time_limit, "now": time.time(),
                   "context": sent, "external": external}
        answer = self.pool.request(request, self.time_limit)
        if not answer.get("ok"):
            _raise_at_line(_rebuild(answer), answer.get("line"))
        return sent, answer


class DiagramScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine, plus a check of the values SpiffWorkflow itself turns into work
    (timer durations, multi-instance cardinalities — see :mod:`.results`)."""

    def validate(self, expression):
        """Raise SyntaxError if ``expression`` does not parse. The DMN engine asks this for every rule cell on
        every evaluation (and expects a SyntaxError for cells like ``< 5``): parsed once per text."""
        error = _syntax_error(expression)
        if error is not None:
            raise SyntaxError(*error)

    def evaluate(self, task, expression, external_context=None):
        try:
            value = self.environment.evaluate(expression, task.data, external_context)
            return check_result(task, expression, value)
        except SpiffWorkflowException as exc:
            exc.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as exc:
            raise WorkflowTaskException(f"Error evaluating expression '{expression}'", task=task,
                                        exception=exc) from exc


@functools.lru_cache(maxsize=4096)
def _syntax_error(expression: str) -> tuple | None:
    """The arguments of the SyntaxError parsing ``expression`` raises, or None if it parses."""
    try:
        ast.parse(expression)
    except SyntaxError as exc:
        return exc.args
    return None


def make_script_engine(time_limit: float | None = DEFAULT_TIME_LIMIT, *,
                       environment_globals: dict[str, Any] | None = None,
                       pool: WorkerPool | None = None) -> PythonScriptEngine:
    """A PythonScriptEngine that runs all diagram code in the sandbox (see the module docstring).

    Errors reach callers wrapped by SpiffWorkflow: a ``WorkflowTaskException`` whose ``error_type`` names
    the original exception class and whose ``__context__`` is the original SandboxViolation /
    ScriptTimeout. Syntax errors stay SyntaxError.
    """
    return DiagramScriptEngine(environment=IsolatedEnvironment(environment_globals, time_limit, pool))

