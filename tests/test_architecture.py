"""The layering rules of docs/architecture.md, checked on the source: the engine never imports Flask, the
API never imports SpiffWorkflow."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> dict[str, set[str]]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
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
    modules = {p.stem for p in (ROOT / "engine").glob("*.py") if p.stem != "__init__"}
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
