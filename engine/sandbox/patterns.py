"""Form ``pattern``s run on RE2: matching time is linear in the input, whatever the pattern.

JSON Schema's ``pattern`` / ``patternProperties`` (and the ``regex`` format) are diagram data: a quality
manager writes them, an applicant supplies the text. Python's ``re`` (what jsonschema uses) backtracks, so
``^(a+)+$`` against ``'a' * 50 + 'b'`` holds a request thread — and the GIL — for hours. RE2 guarantees
linear time and bounded memory; it refuses the few constructs that need backtracking (look-around,
back-references), which :func:`pattern_problems` reports at deploy time.
"""
from __future__ import annotations

import functools
from typing import Any, Iterator

import jsonschema
import re2
from jsonschema import ValidationError
from referencing import Registry
from referencing.exceptions import NoSuchResource

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 8 << 20  # bytes of automaton per pattern


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str):
    """The RE2 program for a pattern; ``re2.error`` if RE2 cannot run it."""
    return re2.compile(pattern, _OPTIONS)


def _search(pattern: str, text: str) -> bool:
    return compile_pattern(pattern).search(text) is not None


def _pattern(validator, pattern: str, instance: Any, schema: dict) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, pattern_properties: dict, instance: Any, schema: dict):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _format_checker(checker: jsonschema.FormatChecker) -> jsonschema.FormatChecker:
    @checker.checks("regex", raises=re2.error)
    def is_regex(value: Any) -> bool:
        return not isinstance(value, str) or compile_pattern(value) is not None

    return checker


#: Draft 2020-12 with RE2 for ``pattern`` and ``patternProperties``.
FormValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"pattern": _pattern, "patternProperties": _pattern_properties})


def _never_retrieve(uri: str):
    """A form's ``$ref`` resolves inside the form or nowhere: nothing is fetched, no URL and no file. (Without a
    registry jsonschema fetched any URI it could not resolve with ``urlopen`` and no time limit: a form could make
    the server read ``file:///etc/…`` or call a host on its network, and wait on it for ever.)"""
    raise NoSuchResource(ref=uri)


#: where form validators look references up: the form itself (and the JSON Schema meta-schemas), never further
LOCAL_ONLY = Registry(retrieve=_never_retrieve)  # type: ignore[call-arg]


def form_validator(schema: dict, format_checker: jsonschema.FormatChecker | None = None):
    """A validator for a form: patterns on RE2, references resolved in the form only (``LOCAL_ONLY``)."""
    return FormValidator(schema, format_checker=_format_checker(format_checker or jsonschema.FormatChecker()),
                         registry=LOCAL_ONLY)


def pattern_problems(schema: Any, path: str = "") -> list[str]:
    """Every ``pattern`` / ``patternProperties`` key of a schema that RE2 cannot run, with its JSON path."""
    problems, stack = [], [(schema, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{where}/{key}"
                if key == "pattern" and isinstance(value, str):
                    problems.extend(_check(value, here))
                elif key == "patternProperties" and isinstance(value, dict):
                    for pattern in value:
                        problems.extend(_check(pattern, f"{here}/{pattern}"))
                if isinstance(value, (dict, list)):
                    stack.append((value, here))
        elif isinstance(node, list):
            stack.extend((item, f"{where}/{i}") for i, item in enumerate(node))
    return sorted(problems)


def _check(pattern: str, where: str) -> list[str]:
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return [f"pattern at '{where}' cannot be used ({detail}): form patterns run on RE2 "
                "(no look-around or back-references)"]
    return []
