"""Which expressions are *bounded by construction*, so they may run in this process without a worker.

Most diagram code is a gateway condition, a DMN input/match/output entry, a timer or an assignee: a name,
a constant, a comparison. Sending each to a worker process costs a round trip; a completion evaluates
dozens (a DMN table evaluates its input expression once per rule). An expression qualifies for in-process
evaluation when its syntax alone proves that its cost is linear in the size of the task data:

* only constants, names, comparisons, ``and``/``or``/``not``, unary ``-``, conditional expressions,
  subscripts/slices, list/tuple/dict displays;
* calls only of a fixed set of builtins and methods that are linear in their input (``len``, ``any``,
  ``.get``, ``.lower`` …) — no arithmetic operators at all (``*`` repeats, ``**`` grows, ``%`` formats);
* comprehensions with a single ``for`` and none nested inside another (so no n² products of the data);
* at most :data:`MAX_NODES` syntax nodes.

Such an expression must first pass the full policy (``compile_restricted_code``: same refusals, same
messages); it is then compiled *without* RestrictedPython's attribute/item hooks — the syntax check above
already allows only harmless attribute names — and runs with the sandbox builtins, under the trace-based
time limit when it loops (a comprehension). Its value must be plain data. Everything else goes to a worker.
"""
from __future__ import annotations

import ast
import functools
from types import CodeType

from .policy import FILENAME

#: Largest expression (syntax nodes) evaluated in process.
MAX_NODES = 64

FUNCTIONS = frozenset({"len", "bool", "any", "all", "str", "int", "float", "abs", "min", "max", "sorted",
                       "list", "tuple", "isinstance", "round"})
METHODS = frozenset({"get", "keys", "values", "items", "lower", "upper", "strip", "lstrip", "rstrip",
                     "startswith", "endswith", "isoformat", "count", "index", "isdigit", "isalpha", "title",
                     "casefold"})
ATTRIBUTES = frozenset({"year", "month", "day", "hour", "minute", "second", "days", "seconds"})

_PLAIN_NODES = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Compare, ast.BoolOp, ast.And, ast.Or,
                ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.IfExp, ast.Subscript, ast.Slice, ast.List,
                ast.Tuple, ast.Dict, ast.Store, ast.comprehension, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
                ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn)
_COMPREHENSIONS = (ast.ListComp, ast.GeneratorExp)


@functools.lru_cache(maxsize=4096)
def classify(source: str) -> tuple[bool, bool]:
    """(bounded, loops): may ``source`` run in process, and does it contain a comprehension."""
    try:
        tree = ast.parse(source.lstrip(" \t"), "<string>", "eval")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return False, False
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        return False, False
    loops = False
    for node in nodes:
        if isinstance(node, _COMPREHENSIONS):
            loops = True
            if len(node.generators) != 1 or any(
                    isinstance(inner, _COMPREHENSIONS) for inner in ast.walk(node) if inner is not node):
                return False, False
        elif isinstance(node, ast.Call):
            if node.keywords and not all(k.arg for k in node.keywords):
                return False, False
            func = node.func
            if isinstance(func, ast.Name) and func.id in FUNCTIONS:
                continue
            if isinstance(func, ast.Attribute) and func.attr in METHODS:
                continue
            return False, False
        elif isinstance(node, ast.Attribute):
            if node.attr not in METHODS and node.attr not in ATTRIBUTES:
                return False, False
        elif isinstance(node, ast.keyword):
            continue
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                return False, False
        elif not isinstance(node, _PLAIN_NODES):
            return False, False
    return True, loops


@functools.lru_cache(maxsize=4096)
def compile_bounded(source: str) -> tuple[CodeType, bool] | None:
    """(code, loops) for an expression bounded by construction, else None."""
    bounded, loops = classify(source)
    if not bounded:
        return None
    return compile(ast.parse(source.lstrip(" \t"), FILENAME, "eval"), FILENAME, "eval"), loops


def simple_name(source: str) -> str | None:
    """The variable an expression consists of (``inspection_team``), if that is all it is."""
    text = source.strip()
    return text if text.isidentifier() and not text.startswith("_") else None
