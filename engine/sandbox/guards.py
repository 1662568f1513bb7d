"""Run-time guards: the checks RestrictedPython's rewritten code calls, and size checks before C calls.

A single C-level operation (big-integer arithmetic, ``pow`` with a modulus, ``math.factorial``, padding,
``str.replace``/``join``, format widths…) cannot be interrupted by a time limit, and holds the GIL while it
runs. Each guard estimates the size or cost of the result *before* the C call and refuses it with a
:class:`SandboxViolation` naming the operation. The worker process's OS limits (``RLIMIT_AS``,
``RLIMIT_CPU``, hard kill) stay as the backstop for anything these estimates miss.

Attribute access is deny-by-default for the objects that lead back into the interpreter: names starting
with ``_``, frame/code/generator/traceback attributes, ``str.format`` (``'{0.__class__}'``), and every
attribute of an exception object except ``args`` (``AttributeError.obj`` hands back the unwrapped object).
"""
from __future__ import annotations

import functools
import math
import operator
import re
from typing import Any, Callable

from RestrictedPython import Guards as _rp_guards
from RestrictedPython.Guards import safer_getattr
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from .errors import SandboxViolation

#: Most items a ``range()``, a ``seq * n`` repetition, a padding or a joined/replaced string may produce.
MAX_SEQUENCE_LENGTH = 10**6
#: Largest integer (in bits) ``*``, ``**``, ``<<`` and math.factorial & co. may produce. Division of two
#: such numbers is quadratic in C (~10 ms at this size; ~1 s at 10**6 bits).
MAX_INT_BITS = 100_000
#: ``pow(base, exp, mod)`` costs ~bits(exp) * bits(mod)**2: at most that of a 2048-bit RSA operation.
MAX_MODPOW_COST = 2048**3
#: Largest width or precision in a format spec (f-string ``{x:>N}``, ``'%Nd' % x``).
MAX_FORMAT_WIDTH = 10_000

_LN2 = math.log(2)
_MISSING = object()
# safer_getattr raises (instead of returning a default) when given this sentinel as its default.
_MISSING_RAISE = _rp_guards.raise_
# Attributes of interpreter internals (frames, code, generators, coroutines, tracebacks).
_INTERNAL_PREFIXES = ("gi_", "cr_", "ag_", "f_", "tb_", "co_")
# str methods whose integer argument sets the size of the result.
_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
#: attributes an exception object exposes to diagram code
EXCEPTION_ATTRIBUTES = frozenset({"args"})


def refuse(message: str) -> SandboxViolation:
    return SandboxViolation(message)


# -- attributes --------------------------------------------------------------------------------------

def _is_str(obj: Any) -> bool:
    return isinstance(obj, (str, bytes)) or (isinstance(obj, type) and issubclass(obj, (str, bytes)))


def _refuse_attribute(obj: Any, name: str) -> None:
    if name.startswith("_"):
        raise refuse(f"access to attribute {name!r} is not allowed in diagram scripts "
                     "(names starting with '_' are private)")
    if name in INSPECT_ATTRIBUTES or name.startswith(_INTERNAL_PREFIXES):
        raise refuse(f"access to attribute {name!r} is not allowed in diagram scripts")
    if isinstance(obj, BaseException) and name not in EXCEPTION_ATTRIBUTES:
        raise refuse(f"exception attribute {name!r} is not available in diagram scripts (only 'args')")
    if name in ("format", "format_map") and _is_str(obj):
        raise refuse(f"str.{name}() is not allowed in diagram scripts (use an f-string or '%' formatting)")


def guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """``_getattr_`` guard and the sandbox's ``getattr`` builtin.

    Unlike RestrictedPython's ``safer_getattr`` (which returns None for a missing attribute when called
    with two arguments) a missing attribute raises AttributeError, as in plain Python — but a fresh one
    that carries no ``obj``.
    """
    if type(name) is not str:
        raise TypeError("attribute name must be a string")
    _refuse_attribute(obj, name)
    try:
        value = safer_getattr(obj, name, _MISSING_RAISE if default is _MISSING else default)
    except NotImplementedError as exc:  # string.Formatter & co.
        if "not safe" in str(exc):
            raise refuse(f"{exc} in diagram scripts") from None
        raise
    except AttributeError:
        raise AttributeError(f"{type(obj).__name__!r} object has no attribute {name!r}") from None
    if _is_str(obj):
        wrapper = _STR_METHOD_GUARDS.get(name)
        if wrapper is not None:
            if isinstance(obj, type):  # str.join(sep, items): bind, then guard
                return functools.wraps(value)(lambda self, *a, **k: guarded_getattr(self, name)(*a, **k))
            return wrapper(value, name)
    return value


def guarded_hasattr(obj: Any, name: str) -> bool:
    try:
        guarded_getattr(obj, name)
    except AttributeError:
        return False
    return True


def getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


# -- integers and repetition ---------------------------------------------------------------------------

def _check_bits(bits: float, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise refuse(f"{what} is too large for the sandbox (limit {MAX_INT_BITS} bits)")


def _sized(value: Any) -> bool:
    return isinstance(value, (str, bytes, bytearray, list, tuple))


def check_mul(a: Any, b: Any) -> None:
    if type(a) is int and type(b) is int:
        _check_bits(a.bit_length() + b.bit_length(), "the product of two integers")
        return
    if isinstance(a, int) and _sized(b):
        a, b = b, a
    if isinstance(b, int) and _sized(a) and b > 0 and len(a) * b > MAX_SEQUENCE_LENGTH:
        raise refuse(f"repeating a sequence to {len(a) * b} items exceeds the sandbox limit "
                     f"of {MAX_SEQUENCE_LENGTH}")


def check_pow(base: Any, exp: Any) -> None:
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        _check_bits((abs(base).bit_length() - 1) * exp, f"{base} ** {exp}")


def check_lshift(value: Any, shift: Any) -> None:
    if isinstance(value, int) and isinstance(shift, int) and value:
        _check_bits(value.bit_length() + shift, f"<< {shift}")


def check_div(a: Any, b: Any) -> None:
    """``//``, ``%`` and ``divmod`` on big integers are quadratic in C."""
    if isinstance(a, int) and isinstance(b, int):
        _check_bits(max(a.bit_length(), b.bit_length()), "dividing such integers")


def check_mod(a: Any, b: Any) -> None:
    if _is_str(a):
        check_percent_format(a, b)
    else:
        check_div(a, b)


def mul(a: Any, b: Any) -> Any:
    check_mul(a, b)
    return a * b


def power(a: Any, b: Any) -> Any:
    check_pow(a, b)
    return a**b


def lshift(a: Any, b: Any) -> Any:
    check_lshift(a, b)
    return a << b


def floordiv(a: Any, b: Any) -> Any:
    check_div(a, b)
    return a // b


def mod(a: Any, b: Any) -> Any:
    check_mod(a, b)
    return a % b


def safe_pow(base: Any, exp: Any, modulus: Any = None) -> Any:
    if modulus is None:
        return power(base, exp)
    if all(isinstance(x, int) for x in (base, exp, modulus)):
        cost = max(exp.bit_length(), 1) * max(modulus.bit_length(), 1) ** 2
        if cost > MAX_MODPOW_COST or base.bit_length() > MAX_INT_BITS:
            raise refuse(f"pow() with a {exp.bit_length()}-bit exponent and a {modulus.bit_length()}-bit "
                         "modulus is too costly for the sandbox (limit: 2048-bit operands)")
    return pow(base, exp, modulus)


def safe_divmod(a: Any, b: Any) -> Any:
    check_div(a, b)
    return divmod(a, b)


def safe_round(number: Any, ndigits: Any = None) -> Any:
    if isinstance(number, int) and isinstance(ndigits, int) and ndigits < -MAX_FORMAT_WIDTH:
        raise refuse(f"round() to {ndigits} digits is too costly for the sandbox")
    return round(number) if ndigits is None else round(number, ndigits)


_INPLACE_OPS: dict[str, tuple[Callable[[Any, Any], Any], Callable[[Any, Any], None] | None]] = {
    "+=": (operator.iadd, None), "-=": (operator.isub, None), "*=": (operator.imul, check_mul),
    "/=": (operator.itruediv, None), "//=": (operator.ifloordiv, check_div), "%=": (operator.imod, check_mod),
    "**=": (operator.ipow, check_pow), "<<=": (operator.ilshift, check_lshift), ">>=": (operator.irshift, None),
    "&=": (operator.iand, None), "|=": (operator.ior, None), "^=": (operator.ixor, None),
    "@=": (operator.imatmul, None),
}


def inplacevar(op: str, target: Any, value: Any) -> Any:
    """``x += 1`` and friends (RestrictedPython rewrites them to calls): the size limits of the plain
    operator apply."""
    try:
        func, check = _INPLACE_OPS[op]
    except KeyError:
        raise refuse(f"operator {op!r} is not supported in diagram scripts") from None
    if check is not None:
        check(target, value)
    return func(target, value)


def limited_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_SEQUENCE_LENGTH:
        raise refuse(f"range() of {len(result)} items exceeds the sandbox limit of {MAX_SEQUENCE_LENGTH}")
    return result


def _iter_until(func: Callable[[], Any], sentinel: Any):
    # A Python-level loop, so the time limit applies even when a C function (list, sum, sorted...)
    # consumes ``iter(callable, sentinel)``.
    while True:
        value = func()
        if value == sentinel:
            return
        yield value


def safe_iter(obj: Any, *sentinel: Any) -> Any:
    if not sentinel:
        return iter(obj)
    if len(sentinel) > 1:
        raise TypeError(f"iter expected at most 2 arguments, got {1 + len(sentinel)}")
    if not callable(obj):
        raise TypeError("iter(v, w): v must be callable")
    return _iter_until(obj, sentinel[0])


# -- math --------------------------------------------------------------------------------------------

def factorial(n: int) -> int:
    if isinstance(n, int) and n > 1:
        _check_bits(math.lgamma(n + 1) / _LN2, f"factorial({n})")
    return math.factorial(n)


def perm(n: int, k: int | None = None) -> int:
    if isinstance(n, int) and n > 1 and (k is None or isinstance(k, int)):
        kk = n if k is None else min(max(k, 0), n)
        _check_bits((math.lgamma(n + 1) - math.lgamma(n - kk + 1)) / _LN2, f"perm({n}, {k})")
    return math.perm(n, k)


def comb(n: int, k: int) -> int:
    if isinstance(n, int) and isinstance(k, int) and n > 1 and 0 <= k <= n:
        bits = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)) / _LN2
        _check_bits(bits, f"comb({n}, {k})")
    return math.comb(n, k)


def prod(iterable: Any, *, start: Any = 1) -> Any:
    result = start
    for value in iterable:  # a Python loop through the multiplication guard (time limit applies)
        result = mul(result, value)
    return result


def lcm(*integers: int) -> int:
    _check_bits(sum(i.bit_length() for i in integers if isinstance(i, int)), "lcm()")
    return math.lcm(*integers)


def isqrt(n: int) -> int:
    if isinstance(n, int):
        _check_bits(n.bit_length(), "isqrt()")
    return math.isqrt(n)


MATH_OVERRIDES = {"factorial": factorial, "perm": perm, "comb": comb, "prod": prod, "lcm": lcm, "isqrt": isqrt}


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


_STR_METHOD_GUARDS: dict[str, Callable[[Callable[..., Any], str], Callable[..., Any]]] = {
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
