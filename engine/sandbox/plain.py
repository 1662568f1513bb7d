"""Task data crosses the sandbox boundary as plain JSON — nothing else.

What a diagram's code leaves in task data (or returns) must be storable: ``None``, booleans, finite numbers,
strings, lists/tuples, dicts, plus the ``date``/``datetime``/``timedelta``/``Decimal`` values the state
serializer stores. Functions, classes, lambdas, objects, sets… are refused with :class:`NonJsonData` naming the
variable, so nothing a diagram defines can run later, outside the limits (an object's ``__eq__`` compared by
the engine, a lambda called by a later step). Tuples come back as lists and dict keys as strings, exactly as
after saving and reloading a case.

The encoding is compact JSON; the four extra types are tagged objects with a key that never occurs in form
data, and decoding only pays for the tag check when the text contains one.
"""
from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from .errors import NonJsonData

#: Largest encoded task data (bytes) a piece of diagram code may hand back.
MAX_DATA_BYTES = 16 * 2**20
#: Deepest nesting of lists/dicts in task data (the engine copies and diffs data recursively).
MAX_DEPTH = 100

_TAG = "\x00sandbox"
_TAG_JSON = json.dumps(_TAG)[1:-1]


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {_TAG: "time", "v": value.isoformat()}
    if isinstance(value, timedelta):
        return {_TAG: "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "v": str(value)}
    raise TypeError(type(value).__name__)


_DECODERS = {
    "datetime": datetime.fromisoformat, "date": date.fromisoformat, "time": time.fromisoformat,
    "timedelta": lambda v: timedelta(days=v[0], seconds=v[1], microseconds=v[2]), "decimal": Decimal,
}


def _object_hook(obj: dict) -> Any:
    kind = obj.get(_TAG)
    if kind is not None and len(obj) == 2 and kind in _DECODERS:
        return _DECODERS[kind](obj["v"])
    return obj


_ENCODER = json.JSONEncoder(default=_default, separators=(",", ":"), ensure_ascii=False, check_circular=True,
                            allow_nan=False)


def _describe(value: Any) -> str:
    if isinstance(value, type) or any("__instancecheck__" in vars(k) for k in type(value).__mro__):  # class views
        return "a class"
    if callable(value):
        return "a function" if getattr(value, "__name__", "") != "<lambda>" else "a lambda"
    if isinstance(value, (set, frozenset)):
        return "a set (use a list)"
    return f"a {type(value).__name__} object"


def find_non_json(value: Any, name: str) -> str | None:
    """Where in ``value`` (called ``name``) the first non-JSON thing sits, and what it is."""
    stack = [(value, name, 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{name} is nested more than {MAX_DEPTH} levels deep (or contains itself)"
        if len(path) > 200:
            path = path[:100] + "…" + path[-60:]
        if isinstance(item, float) and not math.isfinite(item):
            return f"{path} is {item} (not a JSON number)"
        if item is None or isinstance(item, (bool, int, float, str, date, time, timedelta, Decimal)):
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
        elif isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    return f"{path} has a key that is {_describe(k)}"
                stack.append((v, f"{path}[{k!r}]", depth + 1))
        else:
            return f"{path} is {_describe(item)}"
    return None


def dumps(value: Any, what: str = "the data", *, max_depth: bool = False) -> str:
    """Compact JSON of ``value``; NonJsonData naming the offending variable if it is not plain data.

    With ``max_depth`` (the worker: single-threaded, so it may) the interpreter's recursion limit is
    lowered while encoding, so data nested deeper than about :data:`MAX_DEPTH` levels is refused by the C
    encoder itself, at no cost for ordinary data.
    """
    limit = sys.getrecursionlimit()
    try:
        if max_depth:
            sys.setrecursionlimit(_depth_here() + MAX_DEPTH + 20)
        text = _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        where = None
        if isinstance(value, dict):
            for key, item in value.items():
                where = find_non_json(item, repr(key) if not isinstance(key, str) else key)
                if where:
                    break
        else:
            where = find_non_json(value, what)
        raise NonJsonData(f"{what} cannot be stored as JSON data: {where or exc}") from None
    finally:
        if max_depth:
            sys.setrecursionlimit(limit)
    if len(text) > MAX_DATA_BYTES:
        raise NonJsonData(f"{what} is {len(text)} bytes of JSON, over the limit of {MAX_DATA_BYTES}")
    return text


def _depth_here() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def loads(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if _TAG_JSON in text:
        return json.loads(text, object_hook=_object_hook)
    return json.loads(text)


def check(value: Any, what: str) -> Any:
    """Refuse a value that is not plain data (used for results computed in this process)."""
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    where = find_non_json(value, what)
    if where:
        raise NonJsonData(f"{what} cannot be stored as JSON data: {where}")
    return value
