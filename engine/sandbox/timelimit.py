"""Time limits for diagram code running *in this process*.

Two mechanisms, because they suit different places:

* :func:`run_traced` — a thread-local ``sys.settrace`` hook; works in any thread (the in-process
  evaluation of bounded expressions, tests), restores any previous tracer (debugger, coverage).
* :func:`run_with_alarm` — ``ITIMER_REAL`` + a signal handler; no per-line cost, but only in a process's main
  thread: the sandbox worker process uses it.

Neither can stop a single long C call; the size guards (:mod:`.guards`) and, in the worker, the OS limits
and the supervisor's hard kill (:mod:`.pool`) do.
"""
from __future__ import annotations

import dis
import signal
import sys
import time
import weakref
from types import CodeType
from typing import Any, Callable

from .errors import Deadline, ScriptTimeout
from .policy import FILENAME

# Code objects containing a loop that jumps back onto its own instruction (``while True: pass``).
# CPython 3.11 emits no 'line' event for such a jump, so frames running them are traced per opcode.
_SELF_LOOPING_CODES: weakref.WeakSet[CodeType] = weakref.WeakSet()
_BACKWARD_JUMPS = frozenset(name for name in dis.opmap if name.startswith("JUMP_BACKWARD") or name == "JUMP_ABSOLUTE")


_REGISTERED: weakref.WeakSet[CodeType] = weakref.WeakSet()


def register_code(code: CodeType) -> CodeType:
    """Note the self-looping code objects of freshly compiled diagram code (see above); once per code."""
    if code in _REGISTERED:
        return code
    _REGISTERED.add(code)
    for instruction in dis.get_instructions(code):
        if instruction.opname in _BACKWARD_JUMPS and instruction.argval == instruction.offset:
            _SELF_LOOPING_CODES.add(code)
            break
    for const in code.co_consts:
        if isinstance(const, CodeType):
            register_code(const)
    return code


def _timeout(time_limit: float) -> ScriptTimeout:
    return ScriptTimeout(f"diagram script exceeded the time limit of {time_limit:g}s and was stopped", time_limit)


def run_traced(func: Callable[[], Any], time_limit: float | None) -> Any:
    """Run ``func`` in this thread, raising ScriptTimeout after ``time_limit`` seconds."""
    if time_limit is None or time_limit <= 0:
        return func()
    deadline = time.monotonic() + time_limit
    monotonic = time.monotonic

    def local_trace(frame, event, arg):
        if monotonic() > deadline:
            raise Deadline
        return local_trace

    def global_trace(frame, event, arg):
        if monotonic() > deadline:
            raise Deadline
        if frame.f_code.co_filename != FILENAME:
            return None  # our own guards: checked on every call (and generator resume), not per line
        if frame.f_code in _SELF_LOOPING_CODES:
            frame.f_trace_opcodes = True
        return local_trace

    previous = sys.gettrace()
    sys.settrace(global_trace)
    try:
        return func()
    except Deadline:
        raise _timeout(time_limit) from None
    finally:
        sys.settrace(previous)


def _alarm(signum, frame):
    raise Deadline


def run_with_alarm(func: Callable[[], Any], time_limit: float | None) -> Any:
    """Run ``func`` in the main thread of this process, raising ScriptTimeout after ``time_limit``.

    For the worker process, which owns its signals: the handler is installed once and left in place.
    """
    if time_limit is None or time_limit <= 0:
        return func()
    if signal.getsignal(signal.SIGALRM) is not _alarm:
        signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        return func()
    except Deadline:
        raise _timeout(time_limit) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
