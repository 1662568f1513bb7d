"""Request values the database can hold: integers are 64-bit (SQLite and PostgreSQL BIGINT), whether they come
in a path, a query or a body — a larger number is a 404 (path) or a 422 naming the field, never an overflow
deep in the driver (a 500)."""
from __future__ import annotations

from marshmallow import ValidationError, fields
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
