"""The layering rules of docs/architecture.md, checked on the source: the engine never imports Flask, the API never
imports SpiffWorkflow, engine/ is laid out by concern (subpackages that import each other without cycles), no
engine module grows past 400 lines, and no module reaches into another module's private names."""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"

#: What may sit at the top level of engine/: the vocabulary every layer shares (errors, config, actors) and what
#: operates the engine as a whole (health, scheduler, bootstrap). Everything else lives in a subpackage.
TOP_LEVEL = {"__init__", "errors", "config", "actors", "vocabulary", "health", "scheduler", "bootstrap"}

MAX_LINES = 400
#: Modules over MAX_LINES when the limit came in, each with its reason: only a module not listed here fails when
#: it grows past the limit, and a listed one comes off the list once it is split (the list only shrinks).
TOO_LONG: dict[str, str] = {}  # none today; a module listed here needs its reason

#: Cycles between engine subpackages that exist today (none). Add one only with the reason it cannot be avoided.
KNOWN_PACKAGE_CYCLES: set[frozenset[str]] = set()


def _py_files(package: str):
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_pkg else parts), is_pkg


@cache
def _engine_modules() -> frozenset[str]:
    return frozenset(_module_name(p)[0] for p in _py_files("engine"))


def _type_checking_nodes(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            ids |= {id(n) for n in ast.walk(node)}
    return ids


def _from_base(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    if not is_pkg:
        parts = parts[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _engine_imports(path: Path, *, eager_only: bool = False):
    """(imported engine module, the name imported from it or None for the module itself, the local name it is
    bound to, the node) for every import of engine code in the file; TYPE_CHECKING imports left out, and with
    eager_only also the imports inside functions."""
    module, is_pkg = _module_name(path)
    tree = ast.parse(path.read_text(), str(path))
    skip = _type_checking_nodes(tree)
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if id(node) in skip or (eager_only and id(node) not in top):
            continue
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "engine":
                    yield a.name, None, a.asname or a.name, node
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(module, is_pkg, node)
            if base.split(".")[0] != "engine":
                continue
            for a in node.names:
                if f"{base}.{a.name}" in _engine_modules():
                    yield f"{base}.{a.name}", None, a.asname or a.name, node
                else:
                    yield base, a.name, a.asname or a.name, node


def _imports(package: str) -> dict[str, set[str]]:
    found = {}
    for path in _py_files(package):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package, forbidden", [("engine", {"flask", "werkzeug"}), ("api", {"SpiffWorkflow"})])
def test_layering(package, forbidden):
    offenders = {f: sorted(names & forbidden) for f, names in _imports(package).items() if names & forbidden}
    assert offenders == {}


def _section(doc: str, heading: str) -> str:
    text = doc.split(heading, 1)[1]
    return text.split("\n## ", 1)[0]


def test_the_module_table_names_every_engine_module():
    """docs/architecture.md's engine/ table describes the code as it is: every module has a row."""
    table = _section((ROOT / "docs" / "architecture.md").read_text(), "## engine/")
    named = {m for cell in re.findall(r"^\| ([^|]+) \|", table, flags=re.M) for m in re.findall(r"`(\w+)\.py`", cell)}
    modules = {p.stem for p in ENGINE.rglob("*.py")
               if p.stem != "__init__" and not {"migrations", "sandbox"} & set(p.relative_to(ENGINE).parts)}
    assert modules - named == set(), "engine modules without a row in docs/architecture.md"
    assert named - modules == set(), "rows in docs/architecture.md for modules that do not exist"


def test_the_persistence_table_names_every_table_the_migrations_create(tmp_path):
    """The tables of docs/architecture.md's Persistence section are the tables the Alembic chain creates."""
    import sqlalchemy as sa

    from engine.storage.db import Database

    database = Database(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    try:
        database.migrate()
        created = set(sa.inspect(database.engine).get_table_names()) - {"alembic_version"}
    finally:
        database.dispose()
    table = _section((ROOT / "docs" / "architecture.md").read_text(), "## Persistence")
    named = {t for cell in re.findall(r"^\| ([^|]+) \|", table, flags=re.M) for t in re.findall(r"`(\w+)`", cell)}
    assert created - named == set(), "tables without a row in docs/architecture.md"
    assert named - created == set(), "rows in docs/architecture.md for tables the migrations do not create"


def test_process_conventions_document_every_property_the_shipped_library_uses():
    """docs/process-conventions.md is what a quality manager edits by: every `spiffworkflow:property` the
    shipped (split) library uses, and every extension element, is described there."""
    doc = (ROOT / "docs" / "process-conventions.md").read_text()
    used, elements = set(), set()
    for path in (ROOT / "processes").glob("*.bpmn"):
        text = path.read_text()
        used |= set(re.findall(r'spiffworkflow:property name="(\w+)"', text))
        elements |= set(re.findall(r"<(spiffworkflow:\w+)", text)) - {"spiffworkflow:properties",
                                                                         "spiffworkflow:property"}
    assert {p for p in used if f"`{p}`" not in doc} == set()
    assert {e for e in elements if e not in doc and e.split(":")[1] not in doc} == set()


def test_the_process_guide_names_every_step_and_decision_of_the_shipped_library():
    """docs/processes.md follows the split library: every process, every step a person or the engine does
    (user, script, rule tasks, call activities, timers, message waits) and every DMN decision is named."""
    doc = (ROOT / "docs" / "processes.md").read_text()
    steps = r'<bpmn:(?:process|userTask|manualTask|scriptTask|businessRuleTask|callActivity|boundaryEvent|' \
            r'intermediateCatchEvent|receiveTask) id="(\w+)"'
    missing = {}
    for path in sorted((ROOT / "processes").glob("*.bpmn")) + sorted((ROOT / "processes").glob("*.dmn")):
        ids = re.findall(steps if path.suffix == ".bpmn" else r'<decision id="(\w+)"', path.read_text())
        if [i for i in ids if f"`{i}`" not in doc and i not in doc]:
            missing[path.name] = [i for i in ids if i not in doc]
    assert missing == {}


def test_engine_is_laid_out_by_concern():
    """engine/ holds subpackages by concern; only the shared vocabulary and the operating modules stay on top."""
    top = {p.stem for p in ENGINE.glob("*.py")}
    assert top - TOP_LEVEL == set(), "place these modules in a subpackage of engine/ (see docs/architecture.md)"
    packages = [p for p in ENGINE.iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert len(packages) >= 5
    for package in packages:
        assert (package / "__init__.py").is_file(), f"{package.relative_to(ROOT)} has no __init__.py"


@pytest.mark.parametrize("init", sorted(str(p.relative_to(ROOT)) for p in ENGINE.glob("*/__init__.py")
                                        if p.parent.name not in {"sandbox", "migrations"}))
def test_subpackage_inits_hold_no_code(init):
    """No re-export shims: a module is imported from where it lives, so the layout stays honest."""
    body = [n for n in ast.parse((ROOT / init).read_text()).body
            if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    assert body == [], f"{init} should hold only its docstring"


def test_no_engine_module_grows_past_the_limit():
    too_long = {}
    for path in _py_files("engine"):
        if "migrations" in path.parts:
            continue
        rel = str(path.relative_to(ROOT))
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and rel not in TOO_LONG:
            too_long[rel] = lines
    assert too_long == {}, f"split these modules (at most {MAX_LINES} lines each): {too_long}"


def test_the_allow_list_of_long_modules_is_current():
    """A listed module that was split or removed comes off the list, so the list only shrinks."""
    stale = {rel for rel in TOO_LONG
             if not (ROOT / rel).is_file() or len((ROOT / rel).read_text().splitlines()) <= MAX_LINES}
    assert stale == set(), f"take these off TOO_LONG in tests/test_architecture.py: {sorted(stale)}"


def _unit(module: str) -> str:
    """The node of the package graph: the subpackage of engine/ a module lives in, or the top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "engine"


def _cycles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), set(), [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.add(frozenset(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_between_engine_subpackages():
    """Counting imports inside functions too (a deferred import is still a dependency); top-level modules count
    as one node per module."""
    graph = {}
    for path in _py_files("engine"):
        if "migrations" in path.parts:
            continue
        module = _module_name(path)[0]
        src = _unit(module) if _unit(module) != "engine" else module
        for target, _name, _local, _node in _engine_imports(path):
            dst = _unit(target) if _unit(target) != "engine" else target
            if dst != src and target != "engine":
                graph.setdefault(src, set()).add(dst)
    cycles = _cycles(graph) - KNOWN_PACKAGE_CYCLES
    assert cycles == set(), f"engine subpackages import each other in a circle: {[sorted(c) for c in cycles]}"


def test_no_import_cycles_between_engine_modules_at_import_time():
    """Module-level imports only: a cycle there makes what works depend on which module is imported first."""
    graph = {}
    for path in _py_files("engine"):
        module = _module_name(path)[0]
        for target, _name, _local, _node in _engine_imports(path, eager_only=True):
            if target != module and not module.startswith(target + "."):  # a package's own __init__ is no cycle
                graph.setdefault(module, set()).add(target)
    assert _cycles(graph) == set()


def test_no_module_reaches_into_another_modules_private_names():
    """`from engine.x import _name` or `x._name` on an imported engine module, anywhere in engine/ or api/."""
    offenders = []
    for package in ("engine", "api"):
        for path in _py_files(package):
            module = _module_name(path)[0]
            tree = ast.parse(path.read_text(), str(path))
            bound = {}  # local name -> engine module it is bound to
            for target, name, local, node in _engine_imports(path):
                if target == module:
                    continue
                if name is None:
                    bound[local] = target
                elif name.startswith("_") and not name.startswith("__"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}.{name}")
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                        and node.attr.startswith("_") and not node.attr.startswith("__")):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} uses "
                                     f"{bound[node.value.id]}.{node.attr}")
    assert offenders == []
