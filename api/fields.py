"""Request values the server can hold: integers are 64-bit (SQLite and PostgreSQL BIGINT), whether they come
in a path, a query or a body — a larger number is a 404 (path) or a 422 naming the field, never an overflow
deep in the driver (a 500); JSON bodies are nested at most :data:`MAX_JSON_DEPTH` levels deep — a deeper one is a
400 naming where, never a RecursionError in whatever code walks it first (a 500) — and hold only JSON numbers:
``NaN``, ``Infinity`` (which Python's decoder accepts) or a number beyond a float's range is a 400 naming where,
never a value PostgreSQL's JSON columns refuse at commit (a 500) or a browser cannot parse back."""
from __future__ import annotations

import json
import math

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


def check_json_body(req) -> None:
    """A JSON request body nested deeper than :data:`MAX_JSON_DEPTH` is a 400 naming where — including one so deep
    that the decoder itself gives up (a RecursionError, which would otherwise be a 500) — and so is one holding a
    number JSON cannot hold or a NUL character in a string or a key. A body that is not JSON at all is left to the
    parser that reads it (400 "Invalid JSON body.")."""
    if not req.is_json:
        return
    raw = req.get_data(cache=True)
    if not raw:
        return
    try:
        value = json.loads(raw)
    except RecursionError:
        _refuse([], f"nested deeper than {MAX_JSON_DEPTH} levels of objects and arrays", "is")
    except ValueError:
        return
    found = _first_problem(value, MAX_JSON_DEPTH)
    if found is not None:
        _refuse(*found)


def check_request_text(req) -> None:
    """A NUL character in the path, a query argument or a multipart field or file name is a 400 naming where:
    PostgreSQL's text columns cannot hold one (the driver refuses it: a 500 on any lookup or write)."""
    if _NUL in req.path:
        _refuse([], "a NUL character (\\0) in its path", location="path")
    for key, value in req.args.items(multi=True):
        if _has_nul(key) or _has_nul(value):
            _refuse([_shown(key)], _NUL_MESSAGE, location="query")
    if req.mimetype == "multipart/form-data":  # a part may come without a name (None)
        for key, value in req.form.items(multi=True):
            if _has_nul(key) or _has_nul(value):
                _refuse([_shown(key)], _NUL_MESSAGE, location="form")
        for key, upload in req.files.items(multi=True):
            if _has_nul(key) or _has_nul(upload.filename):
                _refuse([_shown(key)], "a NUL character (\\0) in the file name", location="files")


_NUL = "\x00"


def _has_nul(text) -> bool:
    return isinstance(text, str) and _NUL in text


def _shown(key) -> str:
    return key.replace(_NUL, "\\0") if isinstance(key, str) else "(no name)"


_NUL_MESSAGE = "a NUL character (\\0), which no text field can hold"


def _first_problem(value, limit: int) -> tuple | None:
    """(path, message[, verb]) of the first object or array nested deeper than ``limit``, number
    that is not finite, or string or key with a NUL character; else None (iterative: no recursion)."""
    stack = [(value, [], 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            if _NUL in node:
                return path, _NUL_MESSAGE
            continue
        if isinstance(node, float) and not math.isfinite(node):
            return path, f"{node}, which is not a JSON number (NaN, Infinity, or beyond ±1.8e308)"
        if not isinstance(node, (dict, list)):
            continue
        if depth > limit:
            return path, f"nested deeper than {limit} levels of objects and arrays", "is"
        if isinstance(node, dict):
            for key, child in node.items():
                if _NUL in key:
                    return path + [key.replace(_NUL, "\\0")], _NUL_MESSAGE + " in a key"
                stack.append((child, path + [key], depth + 1))
        else:
            stack.extend((child, path + [str(i)], depth + 1) for i, child in enumerate(node))
    return None


def _refuse(path: list[str], message: str, verb: str = "holds", location: str = "json") -> None:
    """A 400 whose problem names the field at ``path`` (webargs' shape: the problem handler flattens it)."""
    messages: dict | list = [message]
    for key in reversed(path):
        messages = {key: messages}
    what = {"json": "the JSON body", "query": "the query", "form": "the form", "files": "the upload",
            "path": "the request"}[location]
    exc = BadRequest(f"{what} {verb} {message}" + (f" (at /{'/'.join(path)})" if path else ""))
    exc.data = {"messages": {location: messages if path else {"_schema": messages}}}
    raise exc
