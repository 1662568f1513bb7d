"""Checks of the library's forms and decision tables: every ``.json`` form is JSON and a valid JSON Schema (its
``pattern`` values safe for the sandbox), every DMN cell compiles under the sandbox as SpiffWorkflow will
evaluate it."""
from __future__ import annotations

import json
import re

import jsonschema
from lxml import etree
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from engine.sandbox import lint
from engine.sandbox.patterns import LOCAL_ONLY, pattern_problems
from .specs import ENGINE_VARIABLES
from .validation import Problem, parse_xml, problem_at

def check_forms(files: dict[str, str], lib) -> dict[str, dict]:
    forms = {}
    for name, text in files.items():
        if not name.endswith(".json"):
            continue
        kind = "UI schema" if name.endswith(".uischema.json") else "form"
        try:
            schema = json.loads(text)
        except json.JSONDecodeError as exc:
            lib.problems.append(Problem("error", f"{kind} is not valid JSON: {exc.msg}", name, line=exc.lineno))
            continue
        except RecursionError:
            lib.problems.append(Problem("error", f"{kind} is nested too deeply to read (limit {MAX_FORM_DEPTH} "
                                                 "levels)", name))
            continue
        except ValueError as exc:  # a number Python will not read (over 4,300 digits)
            lib.problems.append(Problem("error", f"{kind} is not valid JSON: {exc}", name))
            continue
        if _deeper_than(schema, MAX_FORM_DEPTH):
            lib.problems.append(Problem("error", f"{kind} is nested more than {MAX_FORM_DEPTH} levels deep", name))
            continue
        if not isinstance(schema, dict):
            lib.problems.append(Problem("error", f"{kind} must be a JSON object ({{…}}), not {_json_type(schema)}",
                                        name))
            continue
        if kind == "UI schema":
            forms[name] = schema
            continue
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path)
            lib.problems.append(Problem("error", f"form is not a valid JSON Schema at '{where}': {exc.message}", name))
            continue
        bad_refs = ref_problems(schema)
        lib.problems += [Problem("error", message, name) for message in bad_refs]
        if bad_refs:
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


#: Deepest nesting of a form or UI schema file (objects and arrays): validating runs a few Python frames a level
MAX_FORM_DEPTH = 64


def _deeper_than(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _json_type(value) -> str:
    return {bool: "a boolean", str: "a string", list: "an array", type(None): "null"}.get(type(value), "a number")


#: keywords whose subschemas apply to the same value (a reference loop through these alone never ends) …
_IN_PLACE = {"allOf": "list", "anyOf": "list", "oneOf": "list", "not": "one", "if": "one", "then": "one",
             "else": "one", "dependentSchemas": "map"}
#: … and those whose subschemas apply to a part of it (an item, a property) or nothing at all (definitions)
_INTO_PARTS = {"properties": "map", "patternProperties": "map", "$defs": "map", "definitions": "map",
               "additionalProperties": "one", "propertyNames": "one", "unevaluatedProperties": "one",
               "items": "one_or_list", "prefixItems": "list", "additionalItems": "one", "contains": "one",
               "unevaluatedItems": "one", "contentSchema": "one", "dependencies": "map"}


def _subschemas(node: dict, where: str):
    """(subschema, its JSON pointer, applies to the same value?) of each schema keyword of ``node``."""
    for keyword, value in node.items():
        shape = _IN_PLACE.get(keyword) or _INTO_PARTS.get(keyword)
        if shape is None:
            continue
        here, same = f"{where}/{_escape(keyword)}", keyword in _IN_PLACE
        if isinstance(value, dict) and shape in ("one", "one_or_list"):
            yield value, here, same
        elif isinstance(value, dict) and shape == "map":
            yield from ((v, f"{here}/{_escape(k)}", same) for k, v in value.items() if isinstance(v, dict))
        elif isinstance(value, list) and shape in ("list", "one_or_list"):
            yield from ((v, f"{here}/{i}", same) for i, v in enumerate(value) if isinstance(v, dict))


def _escape(key) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def ref_problems(schema: dict) -> list[str]:
    """Every ``$ref`` / ``$dynamicRef`` of a form that cannot work, with its JSON pointer: one that is not a
    local reference (``#…``: the engine fetches nothing — engine.sandbox.patterns ``LOCAL_ONLY``), one that
    resolves to nothing in the form, and one that leads back to where it started through keywords that apply to
    the same value (``{"allOf": [{"$ref": "#"}]}``): checking any value against it would never end."""
    problems: list[str] = []
    edges: dict[int, list[tuple[int, str | None]]] = {}  # schema -> the schemas applied to the same value
    stack = [(schema, "", LOCAL_ONLY.resolver_with_root(DRAFT202012.create_resource(schema)))]
    while stack:
        node, where, resolver = stack.pop()
        if id(node) in edges:
            continue
        out = edges[id(node)] = []
        resolver = resolver.in_subresource(DRAFT202012.create_resource(node))  # as jsonschema does ($id)
        for child, here, same in _subschemas(node, where):
            stack.append((child, here, resolver))
            if same:
                out.append((id(child), None))
        for keyword in ("$ref", "$dynamicRef"):
            if keyword not in node:
                continue
            ref, here = node[keyword], f"{where}/{keyword}"
            if not isinstance(ref, str) or not ref.startswith("#"):
                problems.append(f"{keyword} at '{here}' ({ref!r}) points outside the form: a form may refer only to "
                                "its own parts ('#…'); the engine never fetches a schema")
                continue
            try:
                resolved = resolver.lookup(ref)
            except Unresolvable:
                problems.append(f"{keyword} at '{here}' ({ref!r}) resolves to nothing in the form")
                continue
            if not isinstance(resolved.contents, (dict, bool)):
                problems.append(f"{keyword} at '{here}' ({ref!r}) points to {_json_type(resolved.contents)}, not a "
                                "schema")
            elif isinstance(resolved.contents, dict):
                out.append((id(resolved.contents), here))
                stack.append((resolved.contents, ref[1:] if ref.startswith("#/") else f"{here} → {ref}",
                              resolved.resolver))
    return problems + _endless(edges)


def _endless(edges: dict[int, list[tuple[int, str | None]]]) -> list[str]:
    """The reference closing each loop of schemas that all apply to the same value (depth-first, iterative)."""
    problems, done = set(), set()
    for root in edges:
        if root in done:
            continue
        path = [(root, iter(edges.get(root, ())), None)]  # (schema, its edges left, the $ref that led to it)
        on_path = {root: 0}
        while path:
            node, children, _ = path[-1]
            step = next(children, None)
            if step is None:
                done.add(node)
                del on_path[node]
                path.pop()
                continue
            child, via = step
            if child in on_path:  # a loop: name a $ref on it (a loop of plain nesting cannot exist)
                refs = [v for _, _, v in path[on_path[child] + 1:]] + [via]
                loop_ref = next((v for v in reversed(refs) if v is not None), "?")
                problems.add(f"$ref at '{loop_ref}' closes a loop of schemas that all check the same value "
                             "(through allOf/anyOf/oneOf/not/if/then/else): validating against this form would "
                             "never end")
            elif child not in done:
                on_path[child] = len(path)
                path.append((child, iter(edges.get(child, ())), via))
    return sorted(problems)



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

