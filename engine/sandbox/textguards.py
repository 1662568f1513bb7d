"""Size guards for text: padding, ``replace``, ``join``, ``translate``, ``expandtabs`` and format widths.

Each of these is one C call whose result size the arguments choose (``'x'.ljust(10**9)``,
``s.replace('x', 'y' * 1000)``, ``''.join(huge generator)``, ``f'{1:>999999999}'``, ``'%*d' % (10**9, 1)``).
The guard computes the size of the result first and refuses it past :data:`.limits.MAX_SEQUENCE_LENGTH`
characters (widths and precisions past :data:`.limits.MAX_FORMAT_WIDTH`).
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable

from .errors import SandboxViolation
from .limits import MAX_FORMAT_WIDTH, MAX_SEQUENCE_LENGTH

# str methods whose integer argument sets the size of the result.
_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def is_text(obj: Any) -> bool:
    """A str/bytes value, or the str/bytes type itself (``str.join``)."""
    return isinstance(obj, (str, bytes)) or (isinstance(obj, type) and issubclass(obj, (str, bytes)))


def refuse(message: str) -> SandboxViolation:
    return SandboxViolation(message)


# -- strings -------------------------------------------------------------------------------------------

def _too_long(what: str, size: int) -> SandboxViolation:
    return refuse(f"{what} would make {size} characters, over the sandbox limit of {MAX_SEQUENCE_LENGTH}")


def _width_guard(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for arg in list(args) + list(kwargs.values()):
            if type(arg) is int and arg > MAX_SEQUENCE_LENGTH:
                raise _too_long(f"str.{name}({arg})", arg)
        return method(*args, **kwargs)

    return wrapper


def _expandtabs_guard(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(tabsize: int = 8) -> Any:
        text = method.__self__
        if isinstance(text, (str, bytes)) and isinstance(tabsize, int):
            size = len(text) + text.count("\t" if isinstance(text, str) else b"\t") * max(tabsize, 0)
            if size > MAX_SEQUENCE_LENGTH:
                raise _too_long("expandtabs()", size)
        return method(tabsize)

    return wrapper


def _replace_guard(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(old: Any, new: Any, count: int = -1) -> Any:
        text = getattr(method, "__self__", None)
        if isinstance(text, (str, bytes)) and isinstance(old, (str, bytes)) and isinstance(new, (str, bytes)):
            if len(new) > len(old):
                hits = len(text) + 1 if not old else text.count(old)
                if isinstance(count, int) and count >= 0:
                    hits = min(hits, count)
                size = len(text) + hits * (len(new) - len(old))
                if size > MAX_SEQUENCE_LENGTH:
                    raise _too_long("replace()", size)
        return method(old, new, count)

    return wrapper


def _join_guard(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(iterable: Any) -> Any:
        sep = getattr(method, "__self__", None)
        items = []
        size = 0
        step = len(sep) if isinstance(sep, (str, bytes)) else 0
        for item in iterable:  # a Python loop: the time limit applies to a huge generator
            if isinstance(item, (str, bytes, bytearray)):
                size += len(item) + step
                if size > MAX_SEQUENCE_LENGTH:
                    raise _too_long("join()", size)
            items.append(item)
        return method(items)

    return wrapper


def _translate_guard(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(table: Any, *args: Any) -> Any:
        text = getattr(method, "__self__", None)
        if isinstance(text, str) and isinstance(table, dict):
            longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
            if len(text) * longest > MAX_SEQUENCE_LENGTH:
                raise _too_long("translate()", len(text) * longest)
        return method(table, *args)

    return wrapper


STR_METHOD_GUARDS: dict[str, Callable[[Callable[..., Any], str], Callable[..., Any]]] = {
    **{name: _width_guard for name in _STR_WIDTH_METHODS},
    "expandtabs": _expandtabs_guard,
    "replace": _replace_guard,
    "join": _join_guard,
    "translate": _translate_guard,
}


# -- formatting ----------------------------------------------------------------------------------------

# width and precision of a format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC_NUMBERS = re.compile(r"(\d+)")
# %-format conversions: %[(key)][flags][width|*][.precision|*][length]type
_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def check_format_spec(spec: Any) -> Any:
    """f-string ``{value:spec}``: widths and precisions are capped (``f'{1:>999999999}'``)."""
    if isinstance(spec, str):
        for number in _SPEC_NUMBERS.findall(spec):
            if len(number) > 6 or int(number) > MAX_FORMAT_WIDTH:
                raise refuse(f"format width/precision {number} exceeds the sandbox limit of {MAX_FORMAT_WIDTH}")
    return spec


def check_percent_format(template: Any, args: Any) -> None:
    """``'%999999999d' % 1`` and ``'%*d' % (10**9, 1)``: the same cap as format specs."""
    text = template.decode("latin-1") if isinstance(template, (bytes, bytearray)) else template
    if not isinstance(text, str):
        return
    for width, precision in _PERCENT.findall(text):
        for number in (width, precision):
            if number == "*":
                raise refuse("'*' widths in %-formatting are not allowed in diagram scripts")
            if number and (len(number) > 6 or int(number) > MAX_FORMAT_WIDTH):
                raise refuse(f"format width/precision {number} exceeds the sandbox limit of {MAX_FORMAT_WIDTH}")


def safe_format(value: Any, spec: str = "") -> str:
    """The ``format()`` builtin, with the format-spec cap."""
    return format(value, check_format_spec(spec))
