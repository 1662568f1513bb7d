"""Task data crosses the sandbox boundary as plain JSON — nothing else.

What a diagram's code leaves in task data (or returns) must be what the database stores and the API answers
with: ``None``, booleans, finite numbers, strings, lists/tuples, dicts, plus the ``date``/``datetime``/``Decimal``
values the state serializer stores and the API writes out. Functions, classes, lambdas, objects, sets… are
refused with :class:`NonJsonData` naming the variable, so nothing a diagram defines can run later, outside the
limits (an object's ``__eq__`` compared by the engine, a lambda called by a later step). So is what would
be saved and then fail on every read of the case: a ``timedelta`` or ``time`` of day (no JSON form; compute
with them, keep a number, a ``date`` or an ISO text), a ``datetime`` whose move to UTC leaves the date range
(``datetime(1, 1, 1, tzinfo=+14h)``), a text holding a lone surrogate (``"\\ud800"``, no UTF-8 form). Tuples
come back as lists and dict keys as strings, exactly as after saving and reloading a case.

The encoding is compact JSON; the extra types are tagged objects with a key that never occurs in form
data, and decoding only pays for the tag check when the text contains one.
"""
from __future__ import annotations

import json
import math
import sys
from datetime import date, datetime, time, timedelta, timezone
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
        if _leaf_problem(value):
            raise ValueError("a date and time outside the range")
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "v": str(value)}
    raise TypeError(type(value).__name__)


_DECODERS = {
    "datetime": datetime.fromisoformat, "date": date.fromisoformat, "decimal": Decimal,
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


_LONE_SURROGATE = "a text with a lone surrogate (no UTF-8 form: it cannot be stored)"


def _unstorable_text(text: str) -> bool:
    """A text with a lone surrogate ("\\ud800"): no UTF-8 form, so no database column takes it."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _leaf_problem(item: Any) -> str | None:
    """What is wrong with a scalar the API could not answer with or the database could not store."""
    if isinstance(item, str):
        return _LONE_SURROGATE if _unstorable_text(item) else None
    if isinstance(item, float) and not math.isfinite(item):
        return f"{item} (not a JSON number)"
    if isinstance(item, timedelta):
        return "a timedelta (no JSON form: keep a number of days, or a date it leads to)"
    if isinstance(item, time):
        return "a time of day (no JSON form: keep it as a text, e.g. .isoformat())"
    if isinstance(item, datetime) and item.utcoffset() is not None:
        try:
            item.astimezone(timezone.utc)
        except OverflowError:
            return "a date and time outside the range the engine can read (in UTC it is before year 1 or after 9999)"
    return None


def find_non_json(value: Any, name: str) -> str | None:
    """Where in ``value`` (called ``name``) the first non-JSON thing sits, and what it is."""
    stack = [(value, name, 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"{name} is nested more than {MAX_DEPTH} levels deep (or contains itself)"
        if len(path) > 200:
            path = path[:100] + "…" + path[-60:]
        if item is None or isinstance(item, (bool, int, float, str, date, time, timedelta, Decimal)):
            problem = _leaf_problem(item)
            if problem:
                return f"{path} is {problem}"
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
        elif isinstance(item, dict):
            for k, v in item.items():
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    return f"{path} has a key that is {_describe(k)}"
                if isinstance(k, str) and _unstorable_text(k):
                    return f"{path} has a key that is {_LONE_SURROGATE}"
                stack.append((v, f"{path}[{_shown_key(k)}]", depth + 1))
        else:
            return f"{path} is {_describe(item)}"
    return None


def _shown_key(key: Any) -> str:
    return ascii(key) if isinstance(key, str) and _unstorable_text(key) else repr(key)


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
        raise NonJsonData(f"{what} cannot be stored as JSON data: {_locate(value, what) or exc}") from None
    finally:
        if max_depth:
            sys.setrecursionlimit(limit)
    if _unstorable_text(text):  # a lone surrogate somewhere: the encoder writes it through
        raise NonJsonData(f"{what} cannot be stored as JSON data: {_locate(value, what) or _LONE_SURROGATE}")
    if len(text) > MAX_DATA_BYTES:
        raise NonJsonData(f"{what} is {len(text)} bytes of JSON, over the limit of {MAX_DATA_BYTES}")
    return text


def _locate(value: Any, what: str) -> str | None:
    """Where the first problem sits, named by variable when ``value`` is task data (a dict of variables)."""
    if not isinstance(value, dict):
        return find_non_json(value, what)
    for key, item in value.items():
        name = key if isinstance(key, str) else repr(key)
        if isinstance(key, str) and _unstorable_text(key):
            return f"the variable {ascii(key)} has a name that is {_LONE_SURROGATE}"
        where = find_non_json(item, name)
        if where:
            return where
    return None


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
    if value is None or isinstance(value, (bool, int)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, str) and not _unstorable_text(value):
        return value
    where = find_non_json(value, what)
    if where:
        raise NonJsonData(f"{what} cannot be stored as JSON data: {where}")
    return value
