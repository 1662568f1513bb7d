"""The names diagram code sees: a small explicit set of builtins and modules, plus RestrictedPython's hooks.

Modules are never handed out as such: ``math``, ``random`` and ``string`` are :class:`ModuleView` objects
exposing public attributes only, with the C functions that can blow up replaced by size-checked versions
(see :mod:`.guards`). A missing attribute raises a fresh AttributeError that carries no object.
"""
from __future__ import annotations

import builtins
import datetime as _datetime
import functools
import io
import logging
import math
import random
import string
import time
from typing import Any, Callable

from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
)
from RestrictedPython.PrintCollector import PrintCollector

from . import guards, textguards
from .limits import MAX_SEQUENCE_LENGTH
from .errors import SandboxViolation

logger = logging.getLogger(__name__)

#: Names Python has; the sandbox reports using one it lacks as a violation, not a NameError.
PYTHON_BUILTIN_NAMES = frozenset(vars(builtins))
# Names that would let sandboxed code catch the internal Deadline exception.
_UNCATCHABLE = ("BaseException", "GeneratorExit", "KeyboardInterrupt", "SystemExit")
# Modules datetime's C code imports on its own behalf (date.today(), strptime).
_INTERNAL_MODULES = frozenset({"time", "_strptime", "_datetime", "datetime", "calendar", "locale", "_locale"})


class ModuleView:
    """A module-like object: public attributes of ``target``, some replaced by checked versions."""

    __slots__ = ("_name", "_target", "_overrides")

    def __init__(self, name: str, target: Any, overrides: dict[str, Callable[..., Any]], public=None):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_overrides", (overrides, frozenset(public) if public else None))

    def __getattr__(self, name: str) -> Any:
        overrides, public = self._overrides
        if name in overrides:
            return overrides[name]
        if name.startswith("_") or (public is not None and name not in public) or not hasattr(self._target, name):
            raise AttributeError(f"{self._name} has no attribute {name!r} in diagram scripts")
        return getattr(self._target, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise SandboxViolation(f"{self._name} cannot be changed by diagram scripts")

    def __repr__(self) -> str:
        return f"<sandbox {self._name}>"


class ClockedClass:
    """``datetime`` / ``date`` for diagram code: the real class (construction, ``isinstance``, every public
    attribute), except that ``now()``/``today()``/``utcnow()`` read ``time.time()`` — which the worker sets
    to the engine's clock, so a step stamps the same instant in the worker as in the engine (and tests
    that move the clock move it for diagram code too)."""

    __slots__ = ("_cls",)

    def __init__(self, cls: type):
        object.__setattr__(self, "_cls", cls)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._cls(*args, **kwargs)

    def __instancecheck__(self, obj: Any) -> bool:
        return isinstance(obj, self._cls)

    def __subclasscheck__(self, cls: Any) -> bool:
        return isinstance(cls, type) and issubclass(cls, self._cls)

    def __getattr__(self, name: str) -> Any:
        cls = self._cls
        if name.startswith("_"):
            raise AttributeError(f"{cls.__name__} has no attribute {name!r} in diagram scripts")
        if name == "today":
            return lambda: cls.fromtimestamp(time.time())
        if name == "now" and cls is _datetime.datetime:
            return lambda tz=None: cls.fromtimestamp(time.time(), tz)
        if name == "utcnow" and cls is _datetime.datetime:
            return lambda: cls.fromtimestamp(time.time(), _datetime.timezone.utc).replace(tzinfo=None)
        return getattr(cls, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise SandboxViolation(f"{self._cls.__name__} cannot be changed by diagram scripts")

    def __repr__(self) -> str:
        return f"<class '{self._cls.__module__}.{self._cls.__name__}'>"


def _limit_count(func: Callable[..., Any], label: str, keyword: str | None = None, position: int = 0):
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        count = kwargs.get(keyword) if keyword else (args[position] if len(args) > position else None)
        if type(count) is int and count > MAX_SEQUENCE_LENGTH:
            raise SandboxViolation(f"{label} of {count} exceeds the sandbox limit of {MAX_SEQUENCE_LENGTH}")
        return func(*args, **kwargs)

    return wrapper


def random_view() -> ModuleView:
    # A private generator: seeding it cannot affect the process-wide one (nor, in the worker, anything else).
    generator = random.Random()
    return ModuleView("random", generator, {
        "randbytes": _limit_count(generator.randbytes, "random.randbytes()"),
        "getrandbits": _limit_count(generator.getrandbits, "random.getrandbits()"),
        "choices": _limit_count(generator.choices, "random.choices(k=...)", keyword="k"),
        "sample": _limit_count(generator.sample, "random.sample(k=...)", position=1),
    })


_STRING_PUBLIC = ("ascii_letters", "ascii_lowercase", "ascii_uppercase", "digits", "hexdigits", "octdigits",
                  "printable", "punctuation", "whitespace", "capwords")


class _PrintCollector(PrintCollector):
    """``print()`` in diagram code: collected (``printed``) and logged."""

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        kwargs.pop("file", None)
        buffer = io.StringIO()
        print(*objects, file=buffer, **kwargs)
        text = buffer.getvalue()
        self.txt.append(text)
        logger.info("diagram script printed: %s", text.rstrip("\n")[:1000])


class SandboxBuiltins(dict):
    """The builtins namespace; names Python has but the sandbox lacks raise SandboxViolation (at the
    offending line) instead of NameError."""

    def __missing__(self, key: str) -> Any:
        if key in PYTHON_BUILTIN_NAMES:
            raise SandboxViolation(f"{key!r} is not available in diagram scripts")
        raise KeyError(key)  # -> NameError, as usual


def _internal_import(name, globals=None, locals=None, fromlist=(), level=0):
    """The import the interpreter performs on behalf of datetime's C code — only those modules."""
    if level == 0 and name in _INTERNAL_MODULES:
        return __import__(name, globals, locals, fromlist, level)
    raise SandboxViolation(f"imports are not allowed in diagram scripts ({name})")


def _build_builtins() -> SandboxBuiltins:
    names: dict[str, Any] = dict(safe_builtins)
    for name in _UNCATCHABLE:
        names.pop(name, None)
    names.update({
        "math": ModuleView("math", math, guards.MATH_OVERRIDES),
        "random": random_view(),
        "string": ModuleView("string", string, {}, public=_STRING_PUBLIC),
        "range": guards.limited_range, "list": list, "tuple": tuple, "dict": dict, "set": set,
        "frozenset": frozenset, "str": str, "int": int, "float": float, "bool": bool, "len": len,
        "sorted": sorted, "sum": sum, "min": min, "max": max, "any": any, "all": all, "enumerate": enumerate,
        "zip": zip, "map": map, "filter": filter, "reversed": reversed, "round": guards.safe_round,
        "abs": abs, "divmod": guards.safe_divmod, "isinstance": isinstance, "iter": guards.safe_iter,
        "next": next, "pow": guards.safe_pow, "format": textguards.safe_format,
        "getattr": guards.guarded_getattr, "hasattr": guards.guarded_hasattr,
        "datetime": ClockedClass(_datetime.datetime), "date": ClockedClass(_datetime.date),
        "timedelta": _datetime.timedelta,
        "timezone": _datetime.timezone,
        # needed by RestrictedPython's rewrite of ``class`` statements
        "__metaclass__": type,
        # C code (date.today(), datetime.strptime) imports its helpers through the frame's builtins;
        # scripts themselves cannot import (refused statically) nor name __import__ (underscore)
        "__import__": _internal_import,
        "__name__": "diagram_script",
    })
    return SandboxBuiltins(names)


#: The builtins visible to diagram code.
SANDBOX_BUILTINS: SandboxBuiltins = _build_builtins()


def sandbox_globals() -> dict[str, Any]:
    """Builtins and guards, written over the namespace of every run (a fresh print collector each time)."""
    return {**_GLOBALS, "_print": _PrintCollector()}


_GLOBALS: dict[str, Any] = {
        "__builtins__": SANDBOX_BUILTINS,
        "_getattr_": guards.guarded_getattr,
        "_getitem_": guards.getitem,
        "_getiter_": iter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": guards.inplacevar,
        "_print_": _PrintCollector,
        "_apply_": guards.apply,
        "_mul_": guards.mul,
        "_pow_": guards.power,
        "_lshift_": guards.lshift,
        "_floordiv_": guards.floordiv,
        "_mod_": guards.mod,
        "_format_spec_": textguards.check_format_spec,
    }
