"""Request values the server can hold: integers are 64-bit (SQLite and PostgreSQL BIGINT), whether they come
in a path, a query or a body — a larger number is a 404 (path) or a 422 naming the field, never an overflow
deep in the driver (a 500); JSON bodies are nested at most :data:`MAX_JSON_DEPTH` levels deep — a deeper one is a
400 naming where, never a RecursionError in whatever code walks it first (a 500)."""
from __future__ import annotations

import json

from marshmallow import ValidationError, fields
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class Int64(fields.Integer):
    def _validated(self, value):
        number = super()._validated(value)
        if number is not None and not INT64_MIN <= number <= INT64_MAX:
            raise ValidationError(f"must be between {INT64_MIN} and {INT64_MAX}")
        return number


class Int64Converter(IntegerConverter):
    """``<int:…>`` in every route: a path number outside 64 bits matches no route (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)


#: JSON bodies nested deeper than this are refused before anything reads them: no form needs more, and the
#: code that walks a body (schemas, form validation, the history's canonical JSON, the workflow's data) recurses
MAX_JSON_DEPTH = 64


def check_json_depth(req) -> None:
    """A JSON request body nested deeper than :data:`MAX_JSON_DEPTH` is a 400 naming where — including one so deep
    that the decoder itself gives up (a RecursionError, which would otherwise be a 500). A body that is not JSON
    at all is left to the parser that reads it (400 "Invalid JSON body.")."""
    if not req.is_json:
        return
    raw = req.get_data(cache=True)
    if not raw:
        return
    try:
        value = json.loads(raw)
    except RecursionError:
        _too_deep([])
    except ValueError:
        return
    path = _deeper_than(value, MAX_JSON_DEPTH)
    if path is not None:
        _too_deep(path)


def _deeper_than(value, limit: int) -> list[str] | None:
    """The path of the first object or array nested deeper than ``limit``, else None (iterative: no recursion)."""
    stack = [(value, [], 1)]
    while stack:
        node, path, depth = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        if depth > limit:
            return path
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((child, path + [str(key)], depth + 1) for key, child in items)
    return None


def _too_deep(path: list[str]) -> None:
    message = f"nested deeper than {MAX_JSON_DEPTH} levels of objects and arrays"
    messages: dict | list = [message]
    for key in reversed(path):
        messages = {key: messages}
    exc = BadRequest(f"the JSON body is {message}" + (f" (at /{'/'.join(path)})" if path else ""))
    exc.data = {"messages": {"json": messages if path else {"_schema": messages}}}
    raise exc
