"""Checks of the library's forms and decision tables: every ``.json`` form is JSON and a valid JSON Schema (its
``pattern`` values safe for the sandbox), every DMN cell compiles under the sandbox as SpiffWorkflow will
evaluate it."""
from __future__ import annotations

import json
import re

import jsonschema
from lxml import etree

from engine.sandbox import lint
from engine.sandbox.patterns import pattern_problems
from .specs import ENGINE_VARIABLES
from .validation import Problem, parse_xml, problem_at

def check_forms(files: dict[str, str], lib) -> dict[str, dict]:
    forms = {}
    for name, text in files.items():
        if not name.endswith(".json"):
            continue
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            lib.problems.append(Problem("error", f"form is not valid JSON: {exc.msg}", name, line=exc.lineno))
            continue
        if name.endswith(".uischema.json"):
            forms[name] = schema
            continue
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path)
            lib.problems.append(Problem("error", f"form is not a valid JSON Schema at '{where}': {exc.message}", name))
            continue
        props = schema.get("properties") if isinstance(schema, dict) else None
        props = props if isinstance(props, dict) else {}
        for clash in sorted(set(props) & set(ENGINE_VARIABLES)):
            lib.problems.append(Problem("error", f"form field '{clash}' is an engine variable (set by the engine "
                                                 f"for every case: {', '.join(ENGINE_VARIABLES)}); rename it", name))
        bad_patterns = pattern_problems(schema)
        for message in bad_patterns:
            lib.problems.append(Problem("error", message, name))
        if bad_patterns:
            continue
        forms[name] = schema
    return forms



#: Longest DMN cell (characters): SpiffWorkflow rewrites match cells with a backtracking regex at run time.
MAX_DMN_CELL = 2000


def check_dmn(file_name: str, text: str, lib) -> None:
    """Every DMN input expression, input entry and output entry compiles under the sandbox (the parser
    checks none of them): as SpiffWorkflow evaluates them — an input entry either uses ``?`` or is
    appended to its input expression (``< 6``) or compared with it (``"grant"``)."""
    root = parse_xml(text)
    for node in root.iter():
        if not isinstance(node.tag, str) or etree.QName(node).localname != "text":
            continue
        parent = node.getparent()
        kind = etree.QName(parent).localname if parent is not None else ""
        if kind not in ("inputExpression", "inputEntry", "outputEntry"):
            continue
        source = (node.text or "").strip()
        owner = next((a for a in node.iterancestors() if a.get("id")), parent)
        element, where = owner.get("id"), (file_name, node.sourceline)
        if len(source) > MAX_DMN_CELL:
            lib.problems.append(Problem("error", f"DMN {kind} is {len(source)} characters long (limit {MAX_DMN_CELL})",
                                        file_name, element, node.sourceline))
            continue
        if not source or (kind == "inputEntry" and source == "-"):
            continue
        if kind == "inputEntry":
            rewritten = re.sub(r"\?", "dmninputexpr", source)
            if "dmninputexpr" in rewritten:
                candidates = [rewritten]
            else:
                candidates = [f"dmninputexpr {source}", f"(dmninputexpr) == ({source})"]
            messages = [lint(c, "eval") for c in candidates]
            messages = min(messages, key=len)
        else:
            messages = lint(source, "eval")
        for msg in messages:
            problem_at(lib, {element: where}, "error", element, f"DMN {kind}: {msg}")

