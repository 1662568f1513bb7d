"""Checks of the parsed processes: code in the diagrams (scripts, conditions, timer and payload expressions,
multi-instance expressions) compiles under the sandbox; literal timer values parse (the message quotes the
value); every user task sits in a lane named after a known role, names forms that exist and has well-formed
properties; ``showForms`` names forms and variables that exist. Warnings: user tasks without a form,
unlabeled gateway branches."""
from __future__ import annotations

import ast
import re

from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from engine.sandbox.results import timer_kind, timer_value_problem, unparsable
from .validation import BPMN_NS, lint_code, parse_xml, problem_at, type_words
from engine.vocabulary import (
    ASSIGNEE,
    FORM,
    LANE_ROLES,
    REVOKES_MEMBERSHIP_IF,
    SEPARATE_FROM,
    SHOW_FORMS,
    UI_FORM,
    split_list,
)
from engine.workflow.workflow_state import properties

_BARE_DURATION = re.compile(r"^R?\d*/?P[0-9YMWDTHS.,]+$", re.I)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _check_timer(lib, lines, task_spec, event_definition):
    """Every problem names the timer and quotes its expression or value."""
    element = task_spec.bpmn_id
    timer = f"timer '{task_spec.bpmn_name or element}'"
    expr = (event_definition.expression or "").strip()
    if not expr:
        problem_at(lib, lines, "error", element, f"{timer} has no expression (its time date, duration or cycle)")
        return
    if _BARE_DURATION.match(expr):
        problem_at(lib, lines, "error", element,
                   f'{timer}: the expression {expr} is Python: quote the ISO 8601 value, e.g. "{expr}"')
        return
    before = len(lib.problems)
    lint_code(lib, lines, element, f"{timer}, expression {_short(expr)}", expr, "eval")
    if len(lib.problems) != before:
        return
    try:
        node = ast.parse(expr, mode="eval").body
    except SyntaxError:
        return
    if isinstance(node, ast.Constant):
        value = node.value
        problem = timer_value_problem(value, timer_kind(event_definition))
        if unparsable(problem):
            wanted = problem.removeprefix("it is not ")
            problem_at(lib, lines, "error", element, f"{timer}: the value {_short(str(value))!r} is not {wanted}")
        elif problem:  # the computation SpiffWorkflow would do at every case start, refused here instead
            problem_at(lib, lines, "error", element, f"{timer}: {problem} (value {_short(repr(value))})")


def check_spec(spec, lib, lines, forms, user_task_ids, tags=None):
    for ts in spec.task_specs.values():
        element = getattr(ts, "bpmn_id", None)
        if element is None:
            continue  # engine-internal spec (Start, End, joins)
        label = ts.bpmn_name or element
        for attr, what in (("prescript", "pre-script"), ("postscript", "post-script"), ("script", "script")):
            source = getattr(ts, attr, None)
            if isinstance(source, str):
                lint_code(lib, lines, element, what, source, "exec")
        for condition, _target in getattr(ts, "cond_task_specs", []) or []:
            if condition is not None and getattr(condition, "args", None):
                lint_code(lib, lines, element, "gateway condition", condition.args[0], "eval")
        event_def = getattr(ts, "event_definition", None)
        if isinstance(event_def, TimerEventDefinition):
            _check_timer(lib, lines, ts, event_def)
        if isinstance(event_def, MessageEventDefinition) and getattr(event_def, "expression", None):
            lint_code(lib, lines, element, "message payload", event_def.expression, "eval")
        for attr in ("cardinality", "condition"):
            expr = getattr(ts, attr, None)
            if isinstance(expr, str):
                lint_code(lib, lines, element, f"multi-instance {attr}", expr, "eval")
        if getattr(ts, "manual", False):
            kind = type_words((tags or {}).get(element, "userTask"))
            _check_user_task(ts, f"{kind} '{label}'", lib, lines, forms, user_task_ids)
        outputs = getattr(ts, "outputs", [])
        if type(ts).__name__ in ("ExclusiveGateway", "InclusiveGateway") and len(outputs) > 1:
            unlabeled = _unlabeled_branches(element, lines, lib.files)
            if unlabeled:
                problem_at(lib, lines, "warning", element,
                            f"gateway '{label}' has unlabeled outgoing flows: {', '.join(unlabeled)}")


def _check_user_task(ts, task, lib, lines, forms, user_task_ids):
    """A task a person does (user, manual or plain task): ``task`` is its type and name in words."""
    element = ts.bpmn_id
    if not ts.lane:
        problem_at(lib, lines, "error", element, f"{task} is not in a lane (a person does it: lanes name the role)")
    elif ts.lane not in LANE_ROLES:
        problem_at(lib, lines, "error", element,
                    f"{task} is in lane '{ts.lane}', which is not a role "
                    f"(known: {', '.join(LANE_ROLES)})")
    props = properties(ts)  # their formats: engine.definitions.validation_properties; here what they refer to
    form = props.get(FORM)
    if not form:
        problem_at(lib, lines, "warning", element,
                    f"{task} has no form ({FORM}): it accepts no data")
    elif form not in forms:
        problem_at(lib, lines, "error", element, f"form '{form}' of {task} is missing or invalid")
    ui = props.get(UI_FORM)
    if ui and ui not in forms:
        problem_at(lib, lines, "error", element, f"UI schema '{ui}' of {task} is missing")
    for name in (ASSIGNEE, REVOKES_MEMBERSHIP_IF):
        if props.get(name):
            lint_code(lib, lines, element, f"{name} expression", props[name], "eval")
    for other in split_list(props.get(SEPARATE_FROM)):
        if other not in user_task_ids:
            problem_at(lib, lines, "error", element, f"{SEPARATE_FROM} names '{other}', which is not a user task")


def check_show_forms(spec, lib, lines, forms):
    """``showForms`` (engine/definitions/context.py) names forms of the bundle and variables the process can hold: a field
    of some form, or a name written in the diagrams (a script, a messageVariable, a loopDataOutputRef, a DMN
    output). A typo would silently show nothing on the task page."""
    from .context import parse_show_forms

    for ts in spec.task_specs.values():
        value = properties(ts).get(SHOW_FORMS)
        if not value or getattr(ts, "bpmn_id", None) is None:
            continue
        for variable, form in parse_show_forms(value):
            if form is not None and form not in forms:
                problem_at(lib, lines, "error", ts.bpmn_id,
                            f"{SHOW_FORMS} names form '{form}', which is missing or invalid")
            if variable is not None and not _known_variable(variable, lib.files, forms):
                problem_at(lib, lines, "error", ts.bpmn_id,
                            f"{SHOW_FORMS} names variable '{variable}', which no form field or diagram sets")


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
    root = parse_xml(files[file_name])
    ns = {"bpmn": BPMN_NS}
    flows = root.xpath(f'.//bpmn:sequenceFlow[@sourceRef="{gateway_id}"]', namespaces=ns)
    if len(flows) < 2:
        return []
    default = (root.xpath(f'.//*[@id="{gateway_id}"]') or [None])[0]
    default_id = default.get("default") if default is not None else None
    return [f.get("id") for f in flows if not f.get("name") and f.get("id") != default_id]
