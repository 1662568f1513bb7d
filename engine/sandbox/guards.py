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
from typing import Any, Callable

from RestrictedPython import Guards as _rp_guards
from RestrictedPython.Guards import safer_getattr
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from .errors import SandboxViolation
from .limits import MAX_FORMAT_WIDTH, MAX_INT_BITS, MAX_MODPOW_COST, MAX_SEQUENCE_LENGTH
from .textguards import STR_METHOD_GUARDS, check_percent_format, is_text

_LN2 = math.log(2)
_MISSING = object()
# safer_getattr raises (instead of returning a default) when given this sentinel as its default.
_MISSING_RAISE = _rp_guards.raise_
# Attributes of interpreter internals (frames, code, generators, coroutines, tracebacks).
_INTERNAL_PREFIXES = ("gi_", "cr_", "ag_", "f_", "tb_", "co_")
# ``KeyError.mro()`` hands out ``BaseException`` (which could catch the time limit) and ``object``.
_TYPE_ATTRIBUTES = frozenset({"mro"})
#: attributes an exception object exposes to diagram code
EXCEPTION_ATTRIBUTES = frozenset({"args"})


def refuse(message: str) -> SandboxViolation:
    return SandboxViolation(message)


# -- attributes --------------------------------------------------------------------------------------

def _refuse_attribute(obj: Any, name: str) -> None:
    if name.startswith("_"):
        raise refuse(f"access to attribute {name!r} is not allowed in diagram scripts "
                     "(names starting with '_' are private)")
    if name in INSPECT_ATTRIBUTES or name in _TYPE_ATTRIBUTES or name.startswith(_INTERNAL_PREFIXES):
        raise refuse(f"access to attribute {name!r} is not allowed in diagram scripts")
    if isinstance(obj, BaseException) and name not in EXCEPTION_ATTRIBUTES:
        raise refuse(f"exception attribute {name!r} is not available in diagram scripts (only 'args')")
    if name in ("format", "format_map") and is_text(obj):
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
    if is_text(obj):
        wrapper = STR_METHOD_GUARDS.get(name)
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
    if is_text(a):
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
