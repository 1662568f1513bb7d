"""What diagram code may say: static checks and compilation (RestrictedPython + our own rules).

Everything here runs without executing diagram code, so :func:`lint` is safe at deploy time. Code that is
too deep for the compiler (hundreds of nested operators) is a clear problem, never a RecursionError.
"""
from __future__ import annotations

import ast
import functools
import re
import sys
from types import CodeType
from typing import Any, Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer, copy_locations

from .errors import SandboxViolation
from .namespace import PYTHON_BUILTIN_NAMES, SANDBOX_BUILTINS

Mode = Literal["eval", "exec"]

#: Filename given to compiled diagram code: PythonScriptEngine looks for frames with it to report lines.
FILENAME = "<string>"
#: Deepest nesting of syntax (operators, calls, subscripts) accepted; CPython's compiler gives up ~1000.
MAX_DEPTH = 500
#: Longest piece of diagram code accepted (characters).
MAX_SOURCE_LENGTH = 100_000

# RestrictedPython's transformer recurses ~3 Python frames per syntax level.
if sys.getrecursionlimit() < 4 * MAX_DEPTH + 500:
    sys.setrecursionlimit(4 * MAX_DEPTH + 500)

_GUARDED_BINOPS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.FloorDiv: "_floordiv_",
                   ast.Mod: "_mod_"}


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus:

    * imports are reported by our own pre-pass (with the source line), so they are skipped here;
    * bare ``except:``, ``finally:`` and ``except*`` are refused (they could swallow the timeout);
    * ``*``, ``**``, ``<<``, ``//`` and ``%`` go through size guards (big ints, repetition, %-format widths);
    * f-string format specs go through the width guard (``f'{x:>999999999}'``);
    * ``d[k] += v`` (RestrictedPython refuses augmented item assignment) is rewritten to
      ``d[k] = _inplacevar_('+=', d[k], v)`` when ``d`` is a name and ``k`` a name or constant.
    """

    def visit_Import(self, node: ast.Import) -> Any:
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        return node

    def visit_Try(self, node: ast.Try) -> Any:
        if node.finalbody:
            self.error(node, "'finally' blocks are not allowed in diagram scripts.")
        return super().visit_Try(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        if node.type is None:
            self.error(node, "bare 'except:' is not allowed in diagram scripts; use 'except Exception:'.")
        return super().visit_ExceptHandler(node)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = super().visit_BinOp(node)
        guard = _GUARDED_BINOPS.get(type(node.op)) if isinstance(node, ast.BinOp) else None
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        copy_locations(call, node)
        copy_locations(call.func, node)
        return call

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        if node.format_spec is not None:
            checked = ast.Call(func=ast.Name("_format_spec_", ast.Load()), args=[node.format_spec], keywords=[])
            spec = ast.JoinedStr(values=[ast.FormattedValue(value=checked, conversion=-1, format_spec=None)])
            for new in (checked, checked.func, spec, spec.values[0]):
                copy_locations(new, node)
            node.format_spec = spec
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        target = node.target
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                and isinstance(target.slice, (ast.Name, ast.Constant))):
            return super().visit_AugAssign(node)
        # Visit the pieces so the load, the store and the value are guarded like any other
        # subscript/expression, then assemble the call.
        load = ast.Subscript(value=ast.Name(target.value.id, ast.Load()), slice=_copy_simple(target.slice),
                             ctx=ast.Load())
        ast.copy_location(load, target)
        ast.fix_missing_locations(load)
        load = self.visit(load)
        value = self.visit(node.value)
        store = self.visit(target)
        call = ast.Call(func=ast.Name("_inplacevar_", ast.Load()),
                        args=[ast.Constant(IOPERATOR_TO_STR[type(node.op)]), load, value], keywords=[])
        assign = ast.Assign(targets=[store], value=call)
        ast.copy_location(assign, node)
        ast.fix_missing_locations(assign)
        return assign


def _copy_simple(node: ast.expr) -> ast.expr:
    if isinstance(node, ast.Name):
        return ast.Name(node.id, ast.Load())
    return ast.Constant(node.value)


def _line_text(source: str, lineno: int | None) -> str:
    if not lineno:
        return ""
    lines = source.splitlines()
    if 0 < lineno <= len(lines):
        return lines[lineno - 1].strip()[:200]
    return ""


def _depth(tree: ast.AST) -> int:
    """Nesting depth of a syntax tree, computed without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the code itself binds (so using them is not a builtin lookup)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def parse(source: str, mode: Mode) -> tuple[ast.AST | None, list[str], SyntaxError | None]:
    """Parse and run our own static checks (RestrictedPython's come later)."""
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        raise TypeError(f"diagram code must be a string, not {type(source).__name__}")
    if mode == "eval":
        source = source.lstrip(" \t")  # builtin eval() ignores leading spaces and tabs; so do we
    if len(source) > MAX_SOURCE_LENGTH:
        return None, [f"the code is {len(source)} characters long (limit {MAX_SOURCE_LENGTH})"], None
    try:
        tree = ast.parse(source, FILENAME, mode)
    except SyntaxError as err:
        text = (err.text or "").strip()[:200] or _line_text(source, err.lineno)
        detail = f"line {err.lineno}: {err.msg}" + (f": {text}" if text else "")
        return None, [f"syntax error ({detail})"], err
    except (RecursionError, MemoryError):
        return None, [f"the code is nested too deeply to compile (limit {MAX_DEPTH} levels)"], None
    depth = _depth(tree)
    if depth > MAX_DEPTH:
        return None, [f"the code is nested {depth} levels deep (limit {MAX_DEPTH}): split it into steps"], None

    problems: list[str] = []
    bound = _bound_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            problems.append(f"imports are not allowed in diagram scripts "
                            f"(line {node.lineno}: {_line_text(source, node.lineno)})")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id not in SANDBOX_BUILTINS and node.func.id in PYTHON_BUILTIN_NAMES
              and node.func.id not in bound
              # RestrictedPython reports/handles these itself
              and not node.func.id.startswith("_") and node.func.id not in ("eval", "exec", "print")):
            problems.append(f"{node.func.id!r} is not available in diagram scripts "
                            f"(line {node.lineno}: {_line_text(source, node.lineno)})")
    return tree, problems, None


_RP_ERROR = re.compile(r"^Line (\d+): (.*?)\.?$", re.DOTALL)
_LINE_REF = re.compile(r"\(line (\d+):")


def _error_line(error: str) -> int:
    match = _RP_ERROR.match(error)
    return int(match.group(1)) if match else 0


def _restricted_compile(tree: ast.AST, mode: Mode, source: str) -> tuple[CodeType | None, list[str]]:
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(tree, filename=FILENAME, policy=_SandboxPolicy)
    except (RecursionError, MemoryError):
        return None, [f"the code is nested too deeply to compile (limit {MAX_DEPTH} levels)"]
    errors = []
    # RestrictedPython says 'Line 3: "__class__" is an invalid ...'; use the same shape as our own
    # messages: '... (line 3: <source line>)'.
    for error in sorted(set(result.errors), key=_error_line):
        match = _RP_ERROR.match(error)
        if match:
            lineno = int(match.group(1))
            error = f"{match.group(2)} (line {lineno}: {_line_text(source, lineno)})"
        errors.append(error)
    return result.code, errors


def _by_line(problems: list[str]) -> list[str]:
    def key(problem: str) -> int:
        match = _LINE_REF.search(problem)
        return int(match.group(1)) if match else 0

    return sorted(problems, key=key)


def lint(source: str, mode: Mode = "exec") -> list[str]:
    """Static problems of diagram code, without running it.

    Returns human-readable messages (each naming its line): syntax errors, code nested too deeply,
    imports, calls to Python builtins the sandbox lacks and everything RestrictedPython refuses
    (names/attributes starting with '_', eval/exec, ...). An empty list means the code compiles.
    """
    tree, problems, syntax_error = parse(source, mode)
    if tree is None:
        return problems
    _code, errors = _restricted_compile(tree, mode, source)
    return _by_line(problems + errors)


@functools.lru_cache(maxsize=2048)
def referenced_names(source: str, mode: Mode) -> frozenset[str]:
    """Every variable name the code mentions. Diagram code has no ``globals()``, ``vars()``, ``eval`` nor
    dunder access, so these are the only task-data entries it can read or change: the worker is sent
    just these."""
    tree, _problems, _syntax_error = parse(source, mode)
    if tree is None:
        return frozenset()
    return frozenset(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))


@functools.lru_cache(maxsize=2048)
def compile_restricted_code(source: str, mode: Mode) -> CodeType:
    """Compile diagram code for the sandbox (cached per source and mode).

    Raises the original SyntaxError for invalid Python and SandboxViolation (listing every problem) for
    code the sandbox refuses.
    """
    tree, problems, syntax_error = parse(source, mode)
    if syntax_error is not None:
        raise syntax_error
    if tree is None:
        raise SandboxViolation(problems)
    code, errors = _restricted_compile(tree, mode, source)
    problems = _by_line(problems + errors)
    if problems or code is None:
        raise SandboxViolation(problems or ["diagram code could not be compiled"])
    return code
