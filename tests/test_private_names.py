"""No engine or API module reaches into another engine module's private names through an object: ``x._name`` (or
``getattr(x, "_name")``) where ``_name`` is defined only in another engine module — a method, a function or an
attribute that module keeps to itself. (``from engine.x import _name`` and ``module._name`` are checked in
tests/test_architecture.py.) Private names of third-party objects (SpiffWorkflow's ``task._children``) are not
the engine's, so they are not counted: only names some engine module defines."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Reached into today, each with its reason; the list only shrinks (a name no longer reached into must come off).
KNOWN: dict[str, str] = {}


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _files():
    return sorted(p for package in ("engine", "api") for p in (ROOT / package).rglob("*.py")
                  if "__pycache__" not in p.parts and "migrations" not in p.parts)


def _defined(tree) -> set[str]:
    """Private names a module defines: functions, methods, classes, module and class attributes, and
    attributes it sets on ``self``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                and isinstance(node.value, ast.Name) and node.value.id == "self":
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {n for n in names if _private(n)}


def _reached(tree):
    """(private name, line) for every ``x._name`` and ``getattr(x, "_name")`` where ``x`` is not self or cls."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) \
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            yield node.attr, node.lineno
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr") \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, str) and _private(node.args[1].value):
            yield node.args[1].value, node.lineno


def _offences() -> dict[str, list[str]]:
    trees = {p: ast.parse(p.read_text(), str(p)) for p in _files()}
    defined = {p: _defined(t) for p, t in trees.items()}
    offences: dict[str, list[str]] = {}
    for path, tree in trees.items():
        for name, line in _reached(tree):
            owners = [o for o, names in defined.items() if name in names and o != path]
            if owners and name not in defined[path]:
                where = ", ".join(str(o.relative_to(ROOT)) for o in owners)
                offences.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{line} uses {name} of {where}")
    return offences


def test_no_module_reaches_into_another_modules_private_attributes():
    offences = {name: where for name, where in _offences().items() if name not in KNOWN}
    assert offences == {}, "give these a public name, or move the code to the module that owns them"


def test_the_list_of_known_reaches_is_current():
    stale = set(KNOWN) - set(_offences())
    assert stale == set(), f"take these off KNOWN in tests/test_private_names.py: {sorted(stale)}"


def test_the_check_finds_a_reach(tmp_path):
    """The check itself: an attribute defined privately in one module and used through an object in another."""
    owner = ast.parse("class Engine:\n    def _cache(self):\n        return 1\n")
    user = ast.parse("def f(engine):\n    return engine._cache() + self_ok()\n")
    assert "_cache" in _defined(owner) and ("_cache", 2) in set(_reached(user))
    assert not set(_reached(ast.parse("class A:\n    def f(self):\n        return self._cache()\n")))
