"""The sandbox worker: a separate process that runs diagram code under OS limits.

Started by :mod:`.pool` as ``python -c 'from engine.sandbox.worker import main; main()'``; it talks over its
stdin/stdout with length-prefixed JSON frames (see :func:`read_frame`). Before the first request it applies
``RLIMIT_AS`` (memory), ``RLIMIT_FSIZE`` = 0 (no file writes), ``RLIMIT_NPROC`` = 0 (no new processes) and
``RLIMIT_CORE`` = 0; for every request it moves ``RLIMIT_CPU`` to "CPU used so far + the time limit + 1 s",
so a C call that never returns is killed by the kernel (SIGXCPU) even if the supervisor were gone. A
``SIGALRM`` timer stops Python-level loops at the time limit without per-line tracing cost. The supervisor
still kills the process on a wall-clock deadline; this process holds nothing worth keeping (no database
connection, no secrets): it is respawned.

Inside, the code runs under the same RestrictedPython policy and guards as everywhere else.
"""
from __future__ import annotations

import ast
import functools
import os
import resource
import struct
import sys
import time
import traceback
from typing import Any

# Everything diagram code may need is imported before the limits apply.
import _strptime  # noqa: F401  (datetime.strptime imports it lazily)
import calendar  # noqa: F401
import locale  # noqa: F401

from . import plain
from .errors import Deadline, SandboxViolation, ScriptMemoryLimit, ScriptTimeout
from .namespace import sandbox_globals
from .policy import FILENAME, compile_restricted_code
from .timelimit import run_with_alarm

_HEADER = struct.Struct(">I")
#: keys of the namespace that are never task data
_GUARD_NAMES = frozenset(sandbox_globals()) | {"__builtins__"}


def read_frame(fd: int) -> bytes | None:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    return _read_exactly(fd, length)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


@functools.lru_cache(maxsize=1024)
def _defined_names(source: str) -> frozenset[str]:
    """Names bound by ``def``/``class`` statements: script-local helpers, dropped from the task data after
    the script (as SpiffWorkflow does) — any *other* non-JSON value is an error."""
    tree = ast.parse(source, FILENAME, "exec")
    return frozenset(node.name for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))


def _error_line() -> int | None:
    line = None
    for frame in traceback.extract_tb(sys.exc_info()[2]):
        if frame.filename == FILENAME:
            line = frame.lineno
    return line


def _fake_clock(now: float | None) -> None:
    """``date.today()``, ``datetime.now()`` (see ``namespace.ClockedClass``) read ``time.time``: one step
    happens at one instant, the engine's (which tests may move)."""
    time.time = _REAL_TIME if now is None else (lambda: now)


_REAL_TIME = time.time


def run(request: dict) -> str:
    """Run one piece of code; the answer as JSON text (the data encoded once, checked while encoding)."""
    mode, source = request["mode"], request["code"]
    limit = request.get("limit")
    _fake_clock(request.get("now"))
    code = compile_restricted_code(source, mode)
    context = request.get("context") or {}
    external = request.get("external") or {}
    if mode == "eval":
        namespace = dict(external)
        namespace.update(context)
        namespace.update(sandbox_globals())
        value = run_with_alarm(lambda: eval(code, namespace), limit)
        return '{"ok":true,"value":' + plain.dumps(value, "the value of the expression", max_depth=True) + "}"
    namespace = context
    namespace.update(external)
    namespace.update(sandbox_globals())
    run_with_alarm(lambda: exec(code, namespace), limit)
    helpers = _defined_names(source)
    data = {k: v for k, v in namespace.items()
            if k not in _GUARD_NAMES and k not in external and not (k in helpers and callable(v))}
    return '{"ok":true,"context":' + plain.dumps(data, "the task data the script left", max_depth=True) + "}"


def _failure(exc: BaseException) -> dict:
    if isinstance(exc, MemoryError):
        exc = ScriptMemoryLimit("diagram script needed more memory than the sandbox allows and was stopped")
    elif isinstance(exc, Deadline):
        exc = ScriptTimeout("diagram script exceeded its time limit and was stopped")
    answer: dict[str, Any] = {"ok": False, "kind": type(exc).__name__, "message": str(exc),
                              "line": getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else _error_line()}
    if isinstance(exc, SandboxViolation):
        answer["problems"] = exc.problems
    if isinstance(exc, ScriptTimeout):
        answer["time_limit"] = exc.time_limit
    if isinstance(exc, SyntaxError):
        answer["syntax"] = [exc.msg, exc.lineno, exc.offset, exc.text]
    return answer


def _apply_limits(memory: int) -> None:
    for limit, value in ((resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError) as exc:  # not silent: the language layer still blocks files and processes
            print(f"sandbox worker: limit {limit} not applied: {exc}", file=sys.stderr, flush=True)
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))


def _cpu_budget(limit: float | None) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = int(usage.ru_utime + usage.ru_stime)
    budget = used + int(limit or 0) + 2
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        budget = min(budget, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (budget, hard))  # SIGXCPU (fatal) at the soft limit


def main() -> None:
    """Serve requests until stdin closes."""
    stdin, stdout = 0, os.dup(1)
    os.dup2(2, 1)  # print() from our own code must never corrupt the protocol
    sys.stdout = sys.stderr
    memory = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    _apply_limits(memory)
    write_frame(stdout, b'{"ready":true}')
    while True:
        frame = read_frame(stdin)
        if frame is None:
            return
        try:
            request = plain.loads(frame)
            _cpu_budget(request.get("limit"))
            payload = run(request)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, the worker lives on
            try:
                payload = plain.dumps(_failure(exc))
            except BaseException:  # noqa: BLE001
                payload = plain.dumps({"ok": False, "kind": "SandboxViolation", "message": "unreportable error"})
        write_frame(stdout, payload.encode("utf-8"))


if __name__ == "__main__":
    main()
