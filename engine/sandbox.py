"""Restricted execution of diagram code (scripts, conditions, expressions).

SpiffWorkflow evaluates every piece of Python found in a diagram -- script
tasks, pre/post scripts, gateway conditions, timer expressions, message
payloads, multi-instance collections, DMN input/output entries -- through
``PythonScriptEngine.environment``.  The stock ``TaskDataEnvironment`` uses
plain ``eval``/``exec``, so any diagram could ``import os``.  This module
provides :class:`RestrictedEnvironment`, a drop-in replacement that keeps the
TaskDataEnvironment data semantics but

* refuses imports, dunder names/attributes and other RestrictedPython
  violations *before* running anything (:class:`SandboxViolation`);
* runs the code with a small, explicit set of builtins and RestrictedPython
  guards (no ``open``, ``eval``, ``exec``, ``type``, ``vars``, ...);
* stops code that runs longer than ``time_limit`` seconds
  (:class:`ScriptTimeout`) using a thread-local ``sys.settrace`` hook, so it
  works in any thread (Flask workers, scheduler threads, pytest) without
  signals;
* refuses cheap-to-detect absurd allocations (``range``, ``seq * n``,
  ``**``, ``<<``, big-int ``*``, ``math.factorial/comb/perm``,
  ``str.ljust`` & co., ``random.randbytes/choices``) -- a single C-level
  operation cannot be interrupted by the time limit.

Use :func:`make_script_engine` to get a ``PythonScriptEngine`` and
:func:`lint` to check diagram code at deploy time without running it.
"""

from __future__ import annotations

import ast
import builtins
import datetime as _datetime
import dis
import functools
import io
import logging
import math
import operator
import random
import re
import sys
import time
import weakref
from types import CodeType
from typing import Any, Callable, Literal

from RestrictedPython import Guards as _guards
from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from RestrictedPython.Limits import limited_builtins
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    IOPERATOR_TO_STR,
    RestrictingNodeTransformer,
    copy_locations,
)
from RestrictedPython.Utilities import utility_builtins
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "MAX_INT_BITS",
    "MAX_SEQUENCE_LENGTH",
    "RestrictedEnvironment",
    "SANDBOX_BUILTINS",
    "SandboxViolation",
    "ScriptTimeout",
    "compile_restricted_code",
    "lint",
    "make_script_engine",
]

logger = logging.getLogger(__name__)

Mode = Literal["eval", "exec"]

DEFAULT_TIME_LIMIT = 2.0
#: Most items a ``range()`` or a ``seq * n`` repetition may produce.
MAX_SEQUENCE_LENGTH = 10**6
#: Largest integer (in bits) ``*``, ``**``, ``<<`` and math.factorial & co. may produce.
MAX_INT_BITS = 10**6

# Filename given to compiled diagram code.  PythonScriptEngine looks for
# frames with this filename to report the failing line of a script.
_FILENAME = "<string>"


# --------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------


class SandboxViolation(Exception):
    """Diagram code tried something the sandbox does not allow.

    ``problems`` lists every refused construct (one message each, with its
    line number when known); ``str(exc)`` joins them.
    """

    def __init__(self, message: str | list[str]):
        problems = [message] if isinstance(message, str) else list(message)
        self.problems = problems
        super().__init__("; ".join(problems))


class ScriptTimeout(Exception):
    """Diagram code ran longer than the sandbox time limit."""

    def __init__(self, message: str, time_limit: float | None = None):
        self.time_limit = time_limit
        super().__init__(message)


class _Deadline(BaseException):
    """Raised by the trace hook when the deadline passes.

    Deliberately a BaseException that sandboxed code cannot name: ``except
    Exception`` does not catch it, and the policy forbids bare ``except:``,
    ``finally:`` and the names of BaseException and its non-Exception
    subclasses, so a script cannot swallow the timeout and keep running
    (CPython removes the trace hook after it raises once).  Converted to
    :class:`ScriptTimeout` at the sandbox boundary.
    """


# --------------------------------------------------------------------------
# Runtime guards
# --------------------------------------------------------------------------


def _refuse_attribute(obj: Any, name: str) -> None:
    if name.startswith("_"):
        raise SandboxViolation(
            f"access to attribute {name!r} is not allowed in diagram scripts "
            "(names starting with '_' are private)"
        )
    if name in INSPECT_ATTRIBUTES:
        raise SandboxViolation(f"access to attribute {name!r} is not allowed in diagram scripts")
    if name in ("format", "format_map") and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        raise SandboxViolation(
            f"str.{name}() is not allowed in diagram scripts (use an f-string or '%' formatting)"
        )


_MISSING = object()
# safer_getattr raises (instead of returning a default) when given this
# sentinel as its default.
_MISSING_RAISE = _guards.raise_


def _guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """``_getattr_`` guard and the sandbox's ``getattr`` builtin.

    Unlike RestrictedPython's ``safer_getattr`` (which returns None for a
    missing attribute when called with two arguments) a missing attribute
    raises AttributeError, as in plain Python.
    """
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    _refuse_attribute(obj, name)
    try:
        if default is _MISSING:
            value = safer_getattr(obj, name, _MISSING_RAISE)
        else:
            value = safer_getattr(obj, name, default)
    except NotImplementedError as exc:  # string.Formatter & co.
        if "not safe" in str(exc):
            raise SandboxViolation(f"{exc} in diagram scripts") from None
        raise
    if name in _STR_WIDTH_METHODS and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        return _checked_width(value, name)
    return value


def _guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        _guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def _getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _check_mul(a: Any, b: Any) -> None:
    if type(a) is int and type(b) is int:
        if a.bit_length() + b.bit_length() > MAX_INT_BITS:
            raise SandboxViolation(
                f"multiplying integers of {a.bit_length()} and {b.bit_length()} bits exceeds the "
                f"sandbox limit of {MAX_INT_BITS} bits"
            )
        return
    if isinstance(a, int) and isinstance(b, (str, bytes, list, tuple)):
        a, b = b, a
    if isinstance(b, int) and isinstance(a, (str, bytes, list, tuple)):
        if b > 0 and len(a) * b > MAX_SEQUENCE_LENGTH:
            raise SandboxViolation(
                f"repeating a sequence to {len(a) * b} items exceeds the sandbox limit "
                f"of {MAX_SEQUENCE_LENGTH}"
            )


def _check_pow(base: Any, exp: Any) -> None:
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        if (abs(base).bit_length() - 1) * exp > MAX_INT_BITS:
            raise SandboxViolation(
                f"{base} ** {exp} is too large for the sandbox (limit {MAX_INT_BITS} bits)"
            )


def _check_lshift(value: Any, shift: Any) -> None:
    if isinstance(value, int) and isinstance(shift, int) and value and shift > MAX_INT_BITS:
        raise SandboxViolation(
            f"<< {shift} is too large for the sandbox (limit {MAX_INT_BITS} bits)"
        )


def _mul(a: Any, b: Any) -> Any:
    _check_mul(a, b)
    return a * b


def _pow(a: Any, b: Any) -> Any:
    _check_pow(a, b)
    return a**b


def _lshift(a: Any, b: Any) -> Any:
    _check_lshift(a, b)
    return a << b


def _safe_pow(base: Any, exp: Any, mod: Any = None) -> Any:
    if mod is None:
        return _pow(base, exp)
    return pow(base, exp, mod)


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    """``x += 1`` and friends (RestrictedPython rewrites them to calls).

    Equivalent to ``x = x <op> value``, which the sandbox allows anyway, so
    any operand types are accepted; only the allocation limits apply.
    """
    if op == "*=":
        _check_mul(target, value)
    elif op == "**=":
        _check_pow(target, value)
    elif op == "<<=":
        _check_lshift(target, value)
    try:
        func = _INPLACE_OPS[op]
    except KeyError:
        raise SandboxViolation(f"operator {op!r} is not supported in diagram scripts") from None
    return func(target, value)


def _limited_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_SEQUENCE_LENGTH:
        raise SandboxViolation(
            f"range() of {len(result)} items exceeds the sandbox limit of {MAX_SEQUENCE_LENGTH}"
        )
    return result


def _iter_until(func: Callable[[], Any], sentinel: Any):
    # A Python-level loop, so the time limit applies even when a C function
    # (list, sum, sorted...) consumes ``iter(callable, sentinel)``.
    while True:
        value = func()
        if value == sentinel:
            return
        yield value


def _safe_iter(obj: Any, *sentinel: Any) -> Any:
    if not sentinel:
        return iter(obj)
    if len(sentinel) > 1:
        raise TypeError(f"iter expected at most 2 arguments, got {1 + len(sentinel)}")
    if not callable(obj):
        raise TypeError("iter(v, w): v must be callable")
    return _iter_until(obj, sentinel[0])


_LN2 = math.log(2)


def _check_int_bits(bits: float, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise SandboxViolation(f"{what} is too large for the sandbox (limit {MAX_INT_BITS} bits)")


def _factorial(n: int) -> int:
    if isinstance(n, int) and n > 1:
        _check_int_bits(math.lgamma(n + 1) / _LN2, f"factorial({n})")
    return math.factorial(n)


def _perm(n: int, k: int | None = None) -> int:
    if isinstance(n, int) and n > 1 and (k is None or isinstance(k, int)):
        kk = n if k is None else min(max(k, 0), n)
        _check_int_bits((math.lgamma(n + 1) - math.lgamma(n - kk + 1)) / _LN2, f"perm({n}, {k})")
    return math.perm(n, k)


def _comb(n: int, k: int) -> int:
    if isinstance(n, int) and isinstance(k, int) and n > 1 and 0 <= k <= n:
        bits = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / _LN2
        _check_int_bits(bits, f"comb({n}, {k})")
    return math.comb(n, k)


def _prod(iterable: Any, *, start: Any = 1) -> Any:
    # A Python loop through the multiplication guard (time limit applies).
    result = start
    for value in iterable:
        result = _mul(result, value)
    return result


class _Namespace:
    """A module-like object for diagram code: public attributes of ``target``,
    with some functions replaced by size-checked versions."""

    def __init__(self, name: str, target: Any, overrides: dict[str, Callable[..., Any]]):
        self._name = name
        self._target = target
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._target, name)

    def __repr__(self) -> str:
        return f"<sandbox {self._name}>"


def _limit_count(func: Callable[..., Any], label: str, keyword: str | None = None, position: int = 0):
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        count = kwargs.get(keyword) if keyword else (args[position] if len(args) > position else None)
        if type(count) is int and count > MAX_SEQUENCE_LENGTH:
            raise SandboxViolation(
                f"{label} of {count} exceeds the sandbox limit of {MAX_SEQUENCE_LENGTH}"
            )
        return func(*args, **kwargs)

    return wrapper


def _random_namespace() -> _Namespace:
    # A private generator: seeding it cannot affect the process-wide one.
    generator = random.Random()
    return _Namespace(
        "random",
        generator,
        {
            "randbytes": _limit_count(generator.randbytes, "random.randbytes()"),
            "getrandbits": _limit_count(generator.getrandbits, "random.getrandbits()"),
            "choices": _limit_count(generator.choices, "random.choices(k=...)", keyword="k"),
        },
    )


def _checked_width(method: Callable[..., str], name: str) -> Callable[..., str]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        for arg in list(args) + list(kwargs.values()):
            if type(arg) is int and arg > MAX_SEQUENCE_LENGTH:
                raise SandboxViolation(
                    f"str.{name}({arg}) exceeds the sandbox limit of {MAX_SEQUENCE_LENGTH} characters"
                )
        return method(*args, **kwargs)

    return wrapper


# str methods whose integer argument sets the size of the result.
_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


class _PrintCollector(PrintCollector):
    """``print()`` in diagram code: collected (``printed``) and logged."""

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        kwargs.pop("file", None)
        buffer = io.StringIO()
        print(*objects, file=buffer, **kwargs)
        text = buffer.getvalue()
        self.txt.append(text)
        logger.info("diagram script printed: %s", text.rstrip("\n"))


class _SandboxBuiltins(dict):
    """The builtins namespace; names Python has but the sandbox lacks raise
    SandboxViolation (at the offending line) instead of NameError."""

    def __missing__(self, key: str) -> Any:
        if key in _PYTHON_BUILTIN_NAMES:
            raise SandboxViolation(f"{key!r} is not available in diagram scripts")
        raise KeyError(key)  # -> NameError, as usual


_PYTHON_BUILTIN_NAMES = frozenset(vars(builtins))

# Names that would let sandboxed code catch the internal timeout exception.
_UNCATCHABLE = ("BaseException", "GeneratorExit", "KeyboardInterrupt", "SystemExit")


_INTERNAL_MODULES = frozenset({"time", "_strptime", "_datetime", "datetime", "calendar", "locale", "_locale"})


def _internal_import(name, globals=None, locals=None, fromlist=(), level=0):
    """The import the interpreter performs on behalf of datetime's C code — only those modules."""
    if level == 0 and name in _INTERNAL_MODULES:
        return __import__(name, globals, locals, fromlist, level)
    raise SandboxViolation(f"imports are not allowed in diagram scripts ({name})")


def _build_builtins() -> _SandboxBuiltins:
    names: dict[str, Any] = {}
    names.update(safe_builtins)
    names.update(limited_builtins)
    names.update(utility_builtins)
    names["random"] = names["whrandom"] = _random_namespace()
    names["math"] = _Namespace(
        "math", math, {"factorial": _factorial, "perm": _perm, "comb": _comb, "prod": _prod}
    )
    for name in _UNCATCHABLE:
        names.pop(name, None)
    # RestrictedPython's limited_list/limited_tuple refuse strings and its
    # limited_range stops at 1000 items; with our plain _getiter_ there is no
    # reason for either, so use the real types and a generous range cap.
    names.update(
        {
            "range": _limited_range,
            "list": list,
            "tuple": tuple,
            "dict": dict,
            "set": set,
            "frozenset": frozenset,
            "str": str,
            "int": int,
            "float": float,
            "bool": bool,
            "len": len,
            "sorted": sorted,
            "sum": sum,
            "min": min,
            "max": max,
            "any": any,
            "all": all,
            "enumerate": enumerate,
            "zip": zip,
            "map": map,
            "filter": filter,
            "reversed": reversed,
            "round": round,
            "abs": abs,
            "divmod": divmod,
            "isinstance": isinstance,
            "iter": _safe_iter,
            "next": next,
            "pow": _safe_pow,
            "getattr": _guarded_getattr,
            "hasattr": _guarded_hasattr,
            "datetime": _datetime.datetime,
            "date": _datetime.date,
            "timedelta": _datetime.timedelta,
            "timezone": _datetime.timezone,
            # needed by RestrictedPython's rewrite of ``class`` statements
            "__metaclass__": type,
            # C code (date.today(), datetime.strptime) imports its helpers through the frame's builtins;
            # scripts themselves cannot import (refused statically) nor name __import__ (underscore)
            "__import__": _internal_import,
            "__name__": "diagram_script",
        }
    )
    return _SandboxBuiltins(names)


#: The builtins visible to diagram code.
SANDBOX_BUILTINS: _SandboxBuiltins = _build_builtins()


def _sandbox_globals() -> dict[str, Any]:
    """Builtins and guards, written over the namespace of every run."""
    return {
        "__builtins__": SANDBOX_BUILTINS,
        "_getattr_": _guarded_getattr,
        "_getitem_": _getitem,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": _inplacevar,
        "_print_": _PrintCollector,
        "_apply_": _apply,
        "_mul_": _mul,
        "_pow_": _pow,
        "_lshift_": _lshift,
    }


# --------------------------------------------------------------------------
# Static checks and compilation
# --------------------------------------------------------------------------

_GUARDED_BINOPS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_"}


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus:

    * imports are reported by our own pre-pass (with the source line), so
      they are skipped here;
    * bare ``except:``, ``finally:`` and ``except*`` are refused (they could
      swallow the timeout);
    * ``a * b``, ``a ** b`` and ``a << b`` go through allocation guards;
    * ``d[k] += v`` (RestrictedPython refuses augmented item assignment) is
      rewritten to ``d[k] = _inplacevar_('+=', d[k], v)`` when ``d`` is a
      name and ``k`` a name or constant, i.e. when evaluating them twice is
      harmless.
    """

    def visit_Import(self, node: ast.Import) -> Any:
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        return node

    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:
            self.error(
                node,
                "'finally' blocks are not allowed in diagram scripts.",
            )
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        if node.type is None:
            self.error(
                node,
                "bare 'except:' is not allowed in diagram scripts; use 'except Exception:'.",
            )
        return super().visit_ExceptHandler(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = super().visit_BinOp(node)
        guard = _GUARDED_BINOPS.get(type(node.op)) if isinstance(node, ast.BinOp) else None
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        copy_locations(call, node)
        copy_locations(call.func, node)
        return call

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        target = node.target
        if not (
            isinstance(target, ast.Subscript)
            and isinstance(target.value, ast.Name)
            and isinstance(target.slice, (ast.Name, ast.Constant))
        ):
            return super().visit_AugAssign(node)
        # Visit the pieces so the load, the store and the value are guarded
        # like any other subscript/expression, then assemble the call.
        load = ast.Subscript(
            value=ast.Name(target.value.id, ast.Load()),
            slice=_copy_simple(target.slice),
            ctx=ast.Load(),
        )
        ast.copy_location(load, target)
        ast.fix_missing_locations(load)
        load = self.visit(load)
        value = self.visit(node.value)
        store = self.visit(target)
        call = ast.Call(
            func=ast.Name("_inplacevar_", ast.Load()),
            args=[ast.Constant(IOPERATOR_TO_STR[type(node.op)]), load, value],
            keywords=[],
        )
        assign = ast.Assign(targets=[store], value=call)
        ast.copy_location(assign, node)
        ast.fix_missing_locations(assign)
        return assign


def _copy_simple(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Name):
        return ast.Name(node.id, ast.Load())
    return ast.Constant(node.value)


def _line_text(source: str, lineno: int | None) -> str:
    if not lineno:
        return ""
    lines = source.splitlines()
    if 0 < lineno <= len(lines):
        return lines[lineno - 1].strip()
    return ""


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the code itself binds (so using them is not a builtin lookup)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _analyse(source: str, mode: Mode) -> tuple[ast.AST | None, list[str], SyntaxError | None]:
    """Parse and run our own static checks (RestrictedPython's come later)."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        raise TypeError(f"diagram code must be a string, not {type(source).__name__}")
    if mode == "eval":
        # builtin eval() ignores leading spaces and tabs; so do we.
        source = source.lstrip(" \t")
    try:
        tree = ast.parse(source, _FILENAME, mode)
    except SyntaxError as err:
        text = (err.text or "").strip() or _line_text(source, err.lineno)
        detail = f"line {err.lineno}: {err.msg}" + (f": {text}" if text else "")
        return None, [f"syntax error ({detail})"], err

    problems: list[str] = []
    bound = _bound_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            problems.append(
                "imports are not allowed in diagram scripts "
                f"(line {node.lineno}: {_line_text(source, node.lineno)})"
            )
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id not in SANDBOX_BUILTINS
            and node.func.id in _PYTHON_BUILTIN_NAMES
            and node.func.id not in bound
            # RestrictedPython reports/handles these itself
            and not node.func.id.startswith("_")
            and node.func.id not in ("eval", "exec", "print")
        ):
            problems.append(
                f"{node.func.id!r} is not available in diagram scripts "
                f"(line {node.lineno}: {_line_text(source, node.lineno)})"
            )
    return tree, problems, None


_RP_ERROR = re.compile(r"^Line (\d+): (.*?)\.?$", re.DOTALL)


def _restricted_compile(
    tree: ast.AST, mode: Mode, source: str
) -> tuple[CodeType | None, list[str]]:
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compiler(tree, filename=_FILENAME, policy=_SandboxPolicy)
    errors = []
    # RestrictedPython says 'Line 3: "__class__" is an invalid ...'; use the
    # same shape as our own messages: '... (line 3: <source line>)'.
    for error in sorted(set(result.errors), key=_error_line):
        match = _RP_ERROR.match(error)
        if match:
            lineno = int(match.group(1))
            error = f"{match.group(2)} (line {lineno}: {_line_text(source, lineno)})"
        errors.append(error)
    return result.code, errors


_LINE_REF = re.compile(r"\(line (\d+):")


def _by_line(problems: list[str]) -> list[str]:
    def key(problem: str) -> int:
        match = _LINE_REF.search(problem)
        return int(match.group(1)) if match else 0

    return sorted(problems, key=key)


def _error_line(error: str) -> int:
    match = _RP_ERROR.match(error)
    return int(match.group(1)) if match else 0


def lint(source: str, mode: Mode = "exec") -> list[str]:
    """Static problems of diagram code, without running it.

    Returns human-readable messages (each naming its line): syntax errors,
    imports, calls to Python builtins the sandbox lacks and everything
    RestrictedPython refuses (names/attributes starting with '_', eval/exec,
    ...).  An empty list means the code compiles in the sandbox.
    """
    tree, problems, syntax_error = _analyse(source, mode)
    if syntax_error is not None:
        return problems
    _code, errors = _restricted_compile(tree, mode, source)
    return _by_line(problems + errors)


@functools.lru_cache(maxsize=2048)
def compile_restricted_code(source: str, mode: Mode) -> CodeType:
    """Compile diagram code for the sandbox (cached per source and mode).

    Raises the original SyntaxError for invalid Python and SandboxViolation
    (listing every problem) for code the sandbox refuses.
    """
    tree, problems, syntax_error = _analyse(source, mode)
    if syntax_error is not None:
        raise syntax_error
    code, errors = _restricted_compile(tree, mode, source)
    problems = _by_line(problems + errors)
    if problems or code is None:
        raise SandboxViolation(problems or ["diagram code could not be compiled"])
    _register_self_loops(code)
    return code


# Code objects containing a loop that jumps back onto its own instruction
# (``while True: pass``).  CPython 3.11 emits no 'line' event for such a jump,
# so frames running them are traced per opcode instead.
_SELF_LOOPING_CODES: weakref.WeakSet[CodeType] = weakref.WeakSet()
_BACKWARD_JUMPS = frozenset(
    name for name in dis.opmap if name.startswith("JUMP_BACKWARD") or name == "JUMP_ABSOLUTE"
)


def _register_self_loops(code: CodeType) -> None:
    for instruction in dis.get_instructions(code):
        if instruction.opname in _BACKWARD_JUMPS and instruction.argval == instruction.offset:
            _SELF_LOOPING_CODES.add(code)
            break
    for const in code.co_consts:
        if isinstance(const, CodeType):
            _register_self_loops(const)


# --------------------------------------------------------------------------
# Time limit
# --------------------------------------------------------------------------


def _run_with_time_limit(func: Callable[[], Any], time_limit: float | None) -> Any:
    """Run ``func`` in this thread, raising ScriptTimeout after ``time_limit``.

    Installs a trace function for the duration of the call only and restores
    whatever trace function was active before (debugger, coverage, ...).
    Pure C work that never returns to Python code (a single huge arithmetic
    operation) cannot be interrupted this way; the allocation guards keep the
    obvious cases small.
    """
    if time_limit is None or time_limit <= 0:
        return func()
    deadline = time.monotonic() + time_limit
    monotonic = time.monotonic

    def local_trace(frame, event, arg):
        if monotonic() > deadline:
            raise _Deadline
        return local_trace

    def global_trace(frame, event, arg):
        if monotonic() > deadline:
            raise _Deadline
        if frame.f_code in _SELF_LOOPING_CODES:
            frame.f_trace_opcodes = True
        return local_trace

    previous = sys.gettrace()
    sys.settrace(global_trace)
    try:
        return func()
    except _Deadline:
        raise ScriptTimeout(
            f"diagram script exceeded the time limit of {time_limit:g}s and was stopped",
            time_limit,
        ) from None
    finally:
        sys.settrace(previous)


# --------------------------------------------------------------------------
# The environment
# --------------------------------------------------------------------------


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """TaskDataEnvironment semantics, RestrictedPython execution.

    ``environment_globals`` are extra names (e.g. helper functions) made
    available to every script, exactly as with TaskDataEnvironment: they may
    not be shadowed by task data (``check_for_overwrite``) and are removed
    from the data after a script runs.  They are trusted code -- only put
    vetted callables there.
    """

    def __init__(
        self,
        environment_globals: dict[str, Any] | None = None,
        time_limit: float | None = DEFAULT_TIME_LIMIT,
    ):
        super().__init__(environment_globals)
        self.time_limit = time_limit

    def evaluate(self, expression, context, external_context=None):
        code = compile_restricted_code(expression, "eval")
        my_globals = dict(self.globals)  # else we pollute all later evals.
        self._prepare_context(context)
        my_globals.update(external_context or {})
        my_globals.update(context)
        my_globals.update(_sandbox_globals())
        my_globals["_print"] = _PrintCollector()
        return self._run(lambda: eval(code, my_globals))

    def execute(self, script, context, external_context=None):
        self.check_for_overwrite(context, external_context or {})
        code = compile_restricted_code(script, "exec")
        my_globals = dict(self.globals)
        self._prepare_context(context)
        my_globals.update(external_context or {})
        context.update(my_globals)
        context.update(_sandbox_globals())
        try:
            self._run(lambda: exec(code, context))
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def _run(self, func: Callable[[], Any]) -> Any:
        return _run_with_time_limit(func, self.time_limit)

    def _prepare_context(self, context):
        pass

    # Identical to TaskDataEnvironment (and kept in step with it).
    _remove_globals_and_functions_from_context = (
        TaskDataEnvironment._remove_globals_and_functions_from_context
    )
    check_for_overwrite = TaskDataEnvironment.check_for_overwrite


def make_script_engine(
    time_limit: float | None = DEFAULT_TIME_LIMIT,
    *,
    environment_globals: dict[str, Any] | None = None,
) -> PythonScriptEngine:
    """A PythonScriptEngine that runs all diagram code in the sandbox.

    Errors reach callers wrapped by SpiffWorkflow: a ``WorkflowTaskException``
    whose ``error_type`` names the original exception class and whose
    ``__context__`` is the original SandboxViolation / ScriptTimeout (it has
    no ``.exception`` attribute).  Syntax errors stay SyntaxError.
    """
    return PythonScriptEngine(
        environment=RestrictedEnvironment(environment_globals, time_limit=time_limit)
    )
