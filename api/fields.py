"""Request values the server can hold: integers are 64-bit (SQLite and PostgreSQL BIGINT), whether they come
in a path, a query or a body — a larger number is a 404 (path) or a 422 naming the field, never an overflow
deep in the driver (a 500); JSON bodies are nested at most :data:`MAX_JSON_DEPTH` levels deep — a deeper one is a
400 naming where, never a RecursionError in whatever code walks it first (a 500) — and hold only JSON numbers:
``NaN``, ``Infinity`` (which Python's decoder accepts) or a number beyond a float's range is a 400 naming where,
never a value PostgreSQL's JSON columns refuse at commit (a 500) or a browser cannot parse back. Text everywhere
(JSON strings and keys, query arguments, form fields, file names, the path) is Unicode a database can store: a NUL
character or a lone surrogate (``"\\ud800"``, which JSON allows and UTF-8 cannot encode) is a 400 naming where, and so
is an integer too long for Python to read (over 4,300 digits) and a query that is not UTF-8. A date argument
(:class:`UtcDateTime`) is one whose UTC time exists: ``0001-01-01T00:00:00+14:00`` is a 422 naming it."""
from __future__ import annotations

import json
import math
import re
import sys
from datetime import timezone

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


class UtcDateTime(fields.AwareDateTime):
    """An ISO 8601 date and time that has a UTC time (naive ones are taken as ``default_timezone``, UTC unless
    given): every date argument is compared with UTC columns, and a time whose UTC conversion leaves Python's
    range (``0001-01-01T00:00:00+14:00``, ``9999-12-31T23:59:59-14:00``) is a 422 naming the argument, never an
    OverflowError in the database layer (a 500)."""

    def __init__(self, *, default_timezone=timezone.utc, **kwargs):
        super().__init__(default_timezone=default_timezone, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        when = super()._deserialize(value, attr, data, **kwargs)
        try:
            when.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise ValidationError("is outside the range of dates in UTC (0001-01-01T00:00:00Z to "
                                  "9999-12-31T23:59:59Z)") from None
        return when


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
    parser that reads it (400 "Invalid JSON body."). Neither is an integer Python cannot read (more digits than
    ``sys.get_int_max_str_digits()``, 4,300: a ValueError in every later parse, a 500) nor a lone surrogate."""
    if not req.is_json:
        return
    raw = req.get_data(cache=True)
    if not raw:
        return
    try:
        value = json.loads(raw, parse_int=_read_int)
    except RecursionError:
        _refuse([], f"nested deeper than {MAX_JSON_DEPTH} levels of objects and arrays", "is")
    except ValueError:
        return
    found = _first_problem(value, MAX_JSON_DEPTH)
    if found is not None:
        _refuse(*found)


def check_request_text(req) -> None:
    """A NUL character or a lone surrogate in the path, a query argument or a multipart field or file name is a 400
    naming where: PostgreSQL's text columns cannot hold a NUL (the driver refuses it: a 500 on any lookup or write)
    and no database can store a surrogate. A query string that is not UTF-8 (raw bytes, which werkzeug cannot
    decode: a UnicodeDecodeError, a 500) is a 400 too."""
    found = _odd_text(req.path)
    if found:
        _refuse([], f"{found} in its path", location="path")
    try:
        args = list(req.args.items(multi=True))
    except UnicodeDecodeError as exc:
        key = next((pair.split(b"=", 1)[0] for pair in req.query_string.split(b"&") if not _utf8(pair)), b"")
        _refuse([_shown(key.decode("utf-8", "replace"))] if key else [],
                f"a byte (0x{exc.object[exc.start]:02x}) that is not UTF-8; percent-encode the query's UTF-8 bytes",
                location="query")
    for key, value in args:
        found = _odd_text(key) or _odd_text(value)
        if found:
            _refuse([_shown(key)], _message(found), location="query")
    if req.mimetype == "multipart/form-data":  # a part may come without a name (None)
        for key, value in req.form.items(multi=True):
            found = _odd_text(key) or _odd_text(value)
            if found:
                _refuse([_shown(key)], _message(found), location="form")
        for key, upload in req.files.items(multi=True):
            found = _odd_text(key) or _odd_text(upload.filename)
            if found:
                _refuse([_shown(key)], f"{found} in the file name", location="files")


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


#: what no text column can hold: a NUL character (PostgreSQL refuses it) or a lone surrogate (UTF-8 cannot
#: encode one; JSON's ``\\ud800`` escape and the decoder let it through)
_ODD = re.compile("[\x00\ud800-\udfff]")


def _odd_text(text) -> str | None:
    """Words for the first character of ``text`` no text column can hold, or None."""
    match = _ODD.search(text) if isinstance(text, str) else None
    if match is None:
        return None
    c = match.group()
    return "a NUL character (\\0)" if c == "\x00" else f"a lone surrogate (\\u{ord(c):04x})"


def _shown(key) -> str:
    """A key as a problem can name it: its NUL characters and lone surrogates written as escapes."""
    if not isinstance(key, str):
        return "(no name)"
    return _ODD.sub(lambda m: "\\0" if m.group() == "\x00" else f"\\u{ord(m.group()):04x}", key)


def _message(found: str) -> str:
    return f"{found}, which no text field can hold"


class _TooLong:
    """An integer in a JSON body with more digits than Python reads (stands in for it until the walk names it)."""

    def __init__(self, digits: int):
        self.digits = digits


def _read_int(text: str):
    limit = sys.get_int_max_str_digits()
    digits = len(text) - text.startswith("-")
    return _TooLong(digits) if limit and digits > limit else int(text)


def _first_problem(value, limit: int) -> tuple | None:
    """(path, message[, verb]) of the first object or array nested deeper than ``limit``, number that is not
    finite or too long to read, or string or key with a NUL character or a lone surrogate; else None (iterative:
    no recursion)."""
    stack = [(value, [], 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            found = _odd_text(node)
            if found:
                return path, _message(found)
            continue
        if isinstance(node, _TooLong):
            return path, (f"an integer of {node.digits:,} digits; at most {sys.get_int_max_str_digits():,} "
                          f"can be read")
        if isinstance(node, float) and not math.isfinite(node):
            return path, f"{node}, which is not a JSON number (NaN, Infinity, or beyond ±1.8e308)"
        if not isinstance(node, (dict, list)):
            continue
        if depth > limit:
            return path, f"nested deeper than {limit} levels of objects and arrays", "is"
        if isinstance(node, dict):
            for key, child in node.items():
                found = _odd_text(key)
                if found:
                    return path + [_shown(key)], _message(found) + " in a key"
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
