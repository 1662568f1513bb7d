"""The vocabulary (engine/vocabulary.py) is the one declaration of the diagram properties and the roles: the
conventions guide documents exactly the declared properties, where they sit and what their values are, and
every reader of a property or a role uses the declared name."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from engine.vocabulary import FORMATS, LANE_ROLES, PROPERTIES, ROLES, elements_text

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "process-conventions.md"


def _documented() -> dict[str, list[str]]:
    """{property: [on, value, meaning]} from the table of the guide's "Diagram properties" section."""
    text = GUIDE.read_text()
    section = text[text.index("## Diagram properties"):]
    section = section[:section.index("\n## ", 1)]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"\| `(\w+)` \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split(" | ")]
    return rows


def test_the_guide_documents_exactly_the_declared_properties():
    documented = _documented()
    assert sorted(set(PROPERTIES) - set(documented)) == [], "document these in docs/process-conventions.md"
    assert sorted(set(documented) - set(PROPERTIES)) == [], "declare these in engine/vocabulary.py, or drop them"


def test_the_guide_says_where_each_property_sits_and_what_its_value_is():
    for name, (on, value, meaning) in _documented().items():
        prop = PROPERTIES[name]
        assert on == elements_text(prop), name
        if prop.choices:
            assert all(f"`{c}`" in value for c in prop.choices), name
        else:
            assert value == FORMATS[prop.format], name
        assert meaning, name


def test_the_guide_names_the_lane_roles():
    text = GUIDE.read_text()
    section = text[text.index("## Roles are lanes"):]
    section = section[:section.index("\n## ", 1)]
    assert all(f"`{role}`" in section for role in ROLES)
    assert set(LANE_ROLES) <= set(ROLES)


_NAMES = set(PROPERTIES)


def _literal_reads(path: Path) -> list[str]:
    """Places that look a property up by a string literal: ``x.get("showForms")``, ``x["showForms"]``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        key = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and node.args and isinstance(node.args[0], ast.Constant):
            key = node.args[0].value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        if key in _NAMES:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {key}")
    return found


def test_readers_use_the_declared_names_not_literals():
    offenders = [hit for package in ("engine", "api") for path in sorted((ROOT / package).rglob("*.py"))
                 if "migrations" not in path.parts for hit in _literal_reads(path)]
    assert offenders == [], "use the constants of engine/vocabulary.py"


def test_the_api_schemas_validate_roles_against_the_vocabulary():
    from api.schemas import ROLE

    assert list(ROLE.choices) == list(ROLES)


#: Role checks still spelled as literals, each with its reason; the list only shrinks.
KNOWN_ROLE_LITERALS: dict[str, str] = {}


def _role_literals(path: Path) -> list[str]:
    """Role checks by literal: ``"inspector" in actor.roles``, ``role == "applicant"``, ``has_role("admin")``,
    ``require_role("quality_manager")`` (a role name as data, e.g. the demo users, is not a check)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            literal = [s.value for s in sides if isinstance(s, ast.Constant) and s.value in ROLES]
            if literal and any("role" in ast.unparse(s) for s in sides if not isinstance(s, ast.Constant)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {literal[0]}")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in (
                "has_role", "require_role") and any(isinstance(a, ast.Constant) and a.value in ROLES for a in node.args):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_role_checks_use_the_declared_roles():
    offenders = [hit for package in ("engine", "api") for path in sorted((ROOT / package).rglob("*.py"))
                 if "migrations" not in path.parts and str(path.relative_to(ROOT)) not in KNOWN_ROLE_LITERALS
                 for hit in _role_literals(path)]
    assert offenders == [], "use the role constants of engine/vocabulary.py"
    stale = [rel for rel in KNOWN_ROLE_LITERALS if not _role_literals(ROOT / rel)]
    assert stale == [], f"take these off KNOWN_ROLE_LITERALS: {stale}"
