"""The process library: read a bundle of BPMN/DMN/form files, validate all of it, describe what to deploy.

A *bundle* is a mapping ``{file name: text}`` — the shipped ``processes/`` + ``forms/`` directories, or an
upload. Validation reports **every** problem at once, each with file, element id and line where there is
one, so a quality manager can fix a diagram in one go. Nothing is deployed unless there are no errors.

Checks: XML well-formed and BPMN-XSD valid; every process parses (start events, references, call
activities); scripts, conditions, timer and payload expressions compile under the sandbox; literal timer
values parse; every user task sits in a lane named after a known role; forms exist and are valid JSON
Schema; task properties are well-formed. Warnings: user tasks without a form, unlabeled gateway branches.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jsonschema
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from .actors import LANE_ROLES
from .sandbox import lint
from .sandbox.patterns import pattern_problems
from .sandbox.results import timer_value_problem

SIGNATURE_MEANINGS = ("approval", "review", "authorship")
_BARE_DURATION = re.compile(r"^R?\d*/?P[0-9YMWDTHS.,]+$", re.I)
_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


@dataclass
class Problem:
    severity: str  # error | warning
    message: str
    file: str | None = None
    element_id: str | None = None
    line: int | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def __str__(self) -> str:
        where = ":".join(str(x) for x in (self.file, self.line) if x)
        elem = f" [{self.element_id}]" if self.element_id else ""
        return f"{self.severity}: {where}{elem} {self.message}".strip()


@dataclass
class ProcessVersion:
    """One process of a bundle, ready to deploy."""

    key: str
    name: str
    spec: object
    subprocess_specs: dict
    files: dict[str, str]
    content_hash: str
    start_message: str | None


@dataclass
class Library:
    files: dict[str, str]
    problems: list[Problem] = field(default_factory=list)
    processes: dict[str, ProcessVersion] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self) -> dict:
        return {"valid": self.ok, "errors": [p.to_dict() for p in self.errors],
                "warnings": [p.to_dict() for p in self.warnings],
                "processes": sorted(self.processes)}


def read_directories(processes_dir: str | Path, forms_dir: str | Path) -> dict[str, str]:
    """The shipped library as a bundle: BPMN/DMN from ``processes_dir``, JSON forms from ``forms_dir``."""
    files: dict[str, str] = {}
    for path in sorted(Path(processes_dir).iterdir()):
        if path.suffix in (".bpmn", ".dmn"):
            files[path.name] = path.read_text(encoding="utf-8")
    for path in sorted(Path(forms_dir).iterdir()):
        if path.suffix == ".json":
            files[path.name] = path.read_text(encoding="utf-8")
    return files


def load_library(files: dict[str, str], *, resolvable_from: str = "in the bundle") -> Library:
    """Parse and validate a bundle. Never raises for a bad bundle: problems are in ``library.problems``.

    ``resolvable_from`` only words the error for a call activity whose process is missing (the deployment
    service completes an upload with deployed processes first, and says so)."""
    lib = Library(files=dict(files))
    parser = SpiffBpmnParser(validator=VALIDATOR)
    lines: dict[str, tuple[str, int]] = {}  # element id -> (file, line)
    roots: dict[str, etree._Element] = {}
    bpmn_files = [n for n in files if n.endswith(".bpmn")]
    dmn_files = [n for n in files if n.endswith(".dmn")]
    if not bpmn_files:
        lib.problems.append(Problem("error", "the bundle contains no .bpmn file"))
        return lib

    for name in bpmn_files + dmn_files:
        try:
            root = etree.fromstring(files[name].encode("utf-8"))
        except etree.XMLSyntaxError as exc:
            lib.problems.append(Problem("error", f"XML is not well-formed: {exc.msg}", name, line=exc.lineno))
            continue
        for node in root.iter():
            node_id = node.get("id") if isinstance(node.tag, str) else None
            if node_id:
                lines.setdefault(node_id, (name, node.sourceline))
        if name.endswith(".bpmn"):
            roots[name] = root
        try:
            if name.endswith(".bpmn"):
                parser.add_bpmn_xml(root, filename=name)
            else:
                parser.add_dmn_xml(root, filename=name)
        except ValidationException as exc:
            lib.problems.append(_from_validation(exc, name, lines))
        except Exception as exc:  # the parser's own errors on malformed content
            lib.problems.append(Problem("error", f"cannot parse: {exc}", name))
    if lib.errors:
        return lib

    forms = _check_forms(files, lib)
    for name in dmn_files:
        _check_dmn(name, files[name], lib)
    unresolved = _check_call_activities(roots, set(parser.get_process_ids()), lib, resolvable_from)
    user_task_ids: set[str] = set()
    specs_by_key = {}
    for key in parser.get_process_ids():
        try:
            spec = parser.get_spec(key)
            subs = parser.get_subprocess_specs(key)
        except (ValidationException, SpiffWorkflowException) as exc:
            if not any(f"'{u}'" in str(exc) for u in unresolved):  # already named with its element
                lib.problems.append(_from_validation(exc, None, lines))
            continue
        specs_by_key[key] = (spec, subs)
        for s in [spec, *subs.values()]:
            user_task_ids |= {t.bpmn_id for t in s.task_specs.values() if getattr(t, "manual", False)}

    checked_specs: set[str] = set()
    for key, (spec, subs) in specs_by_key.items():
        for s in [spec, *subs.values()]:
            if s.name not in checked_specs:
                checked_specs.add(s.name)
                _check_spec(s, lib, lines, forms, user_task_ids)
                _check_show_forms(s, lib, lines, forms)
    if lib.errors:
        return lib

    for key, (spec, subs) in specs_by_key.items():
        used = {s.file for s in [spec, *subs.values()] if getattr(s, "file", None)}
        used |= set(dmn_files)
        for s in [spec, *subs.values()]:
            for t in s.task_specs.values():
                props = _properties(t)
                used |= {props[p] for p in ("formJsonSchemaFilename", "formUiSchemaFilename") if props.get(p)}
        version_files = {n: files[n] for n in sorted(used) if n in files}
        digest = hashlib.sha256()
        for n, text in version_files.items():
            digest.update(n.encode() + b"\0" + hashlib.sha256(text.encode()).digest())
        lib.processes[key] = ProcessVersion(
            key=key, name=spec.description or key, spec=spec, subprocess_specs=subs,
            files=version_files, content_hash=digest.hexdigest(), start_message=_start_message(spec))
    return lib


# -- helpers -------------------------------------------------------------------------------------------

def _from_validation(exc, file_name, lines) -> Problem:
    element = getattr(exc, "id", None) or None
    file_name = getattr(exc, "file_name", None) or file_name
    line = getattr(exc, "line_number", None) or None
    if element and element in lines and not line:
        file_name, line = file_name or lines[element][0], lines[element][1]
    msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    return Problem("error", msg, file_name or None, element, int(line) if line else None)


def _properties(task_spec) -> dict:
    return (getattr(task_spec, "extensions", None) or {}).get("properties", {}) or {}


def _start_message(spec) -> str | None:
    starts = getattr(spec, "bpmn_start_events", [])
    if starts and all(isinstance(getattr(s, "event_definition", None), MessageEventDefinition) for s in starts):
        return starts[0].event_definition.name
    return None


def _check_call_activities(roots: dict, process_ids: set[str], lib: Library, resolvable_from: str) -> set[str]:
    """Every call activity names a process that exists; the parser alone would not say which element
    calls it or where. Returns the unresolved process ids."""
    unresolved = set()
    for file_name, root in roots.items():
        for node in root.iter(f"{{{_BPMN_NS}}}callActivity"):
            called = (node.get("calledElement") or "").strip()
            label = node.get("name") or node.get("id")
            if not called:
                lib.problems.append(Problem("error", f"call activity '{label}' names no process (calledElement)",
                                            file_name, node.get("id"), node.sourceline))
            elif called not in process_ids:
                unresolved.add(called)
                lib.problems.append(Problem(
                    "error", f"call activity '{label}' calls process '{called}', which is not {resolvable_from}",
                    file_name, node.get("id"), node.sourceline))
    return unresolved


def _check_forms(files: dict[str, str], lib: Library) -> dict[str, dict]:
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
        bad_patterns = pattern_problems(schema)
        for message in bad_patterns:
            lib.problems.append(Problem("error", message, name))
        if bad_patterns:
            continue
        forms[name] = schema
    return forms


def _problem_at(lib, lines, severity, element_id, message):
    file_name, line = lines.get(element_id, (None, None))
    lib.problems.append(Problem(severity, message, file_name, element_id, line))


def _lint_code(lib, lines, element_id, what, source, mode):
    if not source or not source.strip():
        return
    for msg in lint(source, mode):
        _problem_at(lib, lines, "error", element_id, f"{what}: {msg}")


#: Longest DMN cell (characters): SpiffWorkflow rewrites match cells with a backtracking regex at run time.
MAX_DMN_CELL = 2000


def _check_dmn(file_name: str, text: str, lib: Library) -> None:
    """Every DMN input expression, input entry and output entry compiles under the sandbox (the parser
    checks none of them): as SpiffWorkflow evaluates them — an input entry either uses ``?`` or is
    appended to its input expression (``< 6``) or compared with it (``"grant"``)."""
    root = etree.fromstring(text.encode("utf-8"))
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
            _problem_at(lib, {element: where}, "error", element, f"DMN {kind}: {msg}")


def _check_timer(lib, lines, task_spec, event_definition):
    element = task_spec.bpmn_id
    expr = (event_definition.expression or "").strip()
    if not expr:
        _problem_at(lib, lines, "error", element, "timer has no expression")
        return
    if _BARE_DURATION.match(expr):
        _problem_at(lib, lines, "error", element,
                    f'timer expression {expr} is Python: quote the ISO 8601 value, e.g. "{expr}"')
        return
    before = len(lib.problems)
    _lint_code(lib, lines, element, "timer expression", expr, "eval")
    if len(lib.problems) != before:
        return
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        value = node.value
        problem = timer_value_problem(value, isinstance(event_definition, CycleTimerEventDefinition))
        if problem:  # before parsing: SpiffWorkflow loops once per month of a duration
            _problem_at(lib, lines, "error", element, problem)
            return
        try:
            if isinstance(event_definition, CycleTimerEventDefinition):
                TimerEventDefinition.parse_iso_recurring_interval(value)
            else:
                TimerEventDefinition.parse_time_or_duration(value)
        except Exception:
            _problem_at(lib, lines, "error", element, f"timer value {value!r} is not an ISO 8601 date or duration")


def _check_spec(spec, lib, lines, forms, user_task_ids):
    for ts in spec.task_specs.values():
        element = getattr(ts, "bpmn_id", None)
        if element is None:
            continue  # engine-internal spec (Start, End, joins)
        label = ts.bpmn_name or element
        for attr, what in (("prescript", "pre-script"), ("postscript", "post-script"), ("script", "script")):
            source = getattr(ts, attr, None)
            if isinstance(source, str):
                _lint_code(lib, lines, element, what, source, "exec")
        for condition, _target in getattr(ts, "cond_task_specs", []) or []:
            if condition is not None and getattr(condition, "args", None):
                _lint_code(lib, lines, element, "gateway condition", condition.args[0], "eval")
        event_def = getattr(ts, "event_definition", None)
        if isinstance(event_def, TimerEventDefinition):
            _check_timer(lib, lines, ts, event_def)
        if isinstance(event_def, MessageEventDefinition) and getattr(event_def, "expression", None):
            _lint_code(lib, lines, element, "message payload", event_def.expression, "eval")
        for attr in ("cardinality", "condition"):
            expr = getattr(ts, attr, None)
            if isinstance(expr, str):
                _lint_code(lib, lines, element, f"multi-instance {attr}", expr, "eval")
        if getattr(ts, "manual", False):
            _check_user_task(ts, label, lib, lines, forms, user_task_ids)
        outputs = getattr(ts, "outputs", [])
        if type(ts).__name__ in ("ExclusiveGateway", "InclusiveGateway") and len(outputs) > 1:
            unlabeled = _unlabeled_branches(element, lines, lib.files)
            if unlabeled:
                _problem_at(lib, lines, "warning", element,
                            f"gateway '{label}' has unlabeled outgoing flows: {', '.join(unlabeled)}")


def _check_user_task(ts, label, lib, lines, forms, user_task_ids):
    element = ts.bpmn_id
    if not ts.lane:
        _problem_at(lib, lines, "error", element, f"user task '{label}' is not in a lane (lanes name the role)")
    elif ts.lane not in LANE_ROLES:
        _problem_at(lib, lines, "error", element,
                    f"user task '{label}' is in lane '{ts.lane}', which is not a role "
                    f"(known: {', '.join(LANE_ROLES)})")
    props = _properties(ts)
    form = props.get("formJsonSchemaFilename")
    if not form:
        _problem_at(lib, lines, "warning", element,
                    f"user task '{label}' has no form (formJsonSchemaFilename): it accepts no data")
    elif form not in forms:
        _problem_at(lib, lines, "error", element, f"form '{form}' of user task '{label}' is missing or invalid")
    ui = props.get("formUiSchemaFilename")
    if ui and ui not in forms:
        _problem_at(lib, lines, "error", element, f"UI schema '{ui}' of user task '{label}' is missing")
    if props.get("assignee"):
        _lint_code(lib, lines, element, "assignee expression", props["assignee"], "eval")
    if props.get("revokesMembershipIf"):
        _lint_code(lib, lines, element, "revokesMembershipIf expression", props["revokesMembershipIf"], "eval")
    for name in (v.strip() for v in props.get("caseTeam", "").split(",")):
        if name and not name.isidentifier():
            _problem_at(lib, lines, "error", element, f"caseTeam names {name!r}, which is not a variable name")
    if "priority" in props:
        try:
            int(props["priority"])
        except ValueError:
            _problem_at(lib, lines, "error", element, f"priority {props['priority']!r} is not an integer")
    meaning = props.get("signatureMeaning")
    if meaning and meaning not in SIGNATURE_MEANINGS:
        _problem_at(lib, lines, "error", element,
                    f"signatureMeaning {meaning!r} is not one of {', '.join(SIGNATURE_MEANINGS)}")
    for other in filter(None, (s.strip() for s in props.get("separateFrom", "").split(","))):
        if other not in user_task_ids:
            _problem_at(lib, lines, "error", element, f"separateFrom names '{other}', which is not a user task")


def _check_show_forms(spec, lib, lines, forms):
    """``showForms`` (engine/context.py) names forms of the bundle and variables the process can hold: a field
    of some form, or a name written in the diagrams (a script, a messageVariable, a loopDataOutputRef, a DMN
    output). A typo would silently show nothing on the task page."""
    from .context import parse_show_forms

    for ts in spec.task_specs.values():
        value = _properties(ts).get("showForms")
        if not value or getattr(ts, "bpmn_id", None) is None:
            continue
        for variable, form in parse_show_forms(value):
            if form is not None and form not in forms:
                _problem_at(lib, lines, "error", ts.bpmn_id,
                            f"showForms names form '{form}', which is missing or invalid")
            if variable is not None and not _known_variable(variable, lib.files, forms):
                _problem_at(lib, lines, "error", ts.bpmn_id,
                            f"showForms names variable '{variable}', which no form field or diagram sets")


def _known_variable(name: str, files: dict[str, str], forms: dict[str, dict]) -> bool:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return False
    if any(name in (schema.get("properties") or {}) for schema in forms.values()):
        return True
    n = re.escape(name)  # assigned in a script, or named by an element (messageVariable, loopDataOutputRef, DMN)
    written = re.compile(rf"(?<![A-Za-z0-9_.]){n}\s*=[^=]|>\s*{n}\s*<|name=\"{n}\"")
    return any(written.search(text) for fname, text in files.items() if not fname.endswith(".json"))


def _unlabeled_branches(gateway_id, lines, files) -> list[str]:
    file_name = lines.get(gateway_id, (None,))[0]
    if not file_name:
        return []
    root = etree.fromstring(files[file_name].encode("utf-8"))
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    flows = root.xpath(f'.//bpmn:sequenceFlow[@sourceRef="{gateway_id}"]', namespaces=ns)
    if len(flows) < 2:
        return []
    default = (root.xpath(f'.//*[@id="{gateway_id}"]') or [None])[0]
    default_id = default.get("default") if default is not None else None
    return [f.get("id") for f in flows if not f.get("name") and f.get("id") != default_id]
