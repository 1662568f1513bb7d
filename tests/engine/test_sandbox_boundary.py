"""The sandbox boundary through the Engine: task data is plain JSON after every piece of code (else a
ProcessError — HTTP 422 — naming the element), deep expressions validate without crashing, a runaway
step does not stall other engine calls, and form patterns cannot backtrack."""
from __future__ import annotations

import json
import threading

import pytest

from engine.errors import DefinitionInvalid, InvalidFormData, ProcessError
from engine.cases.services import Engine

from .bpmn_builder import SIMPLE_FORM, flow, process, two_step, user_task


def _script(text: str) -> str:
    return text.replace("\n", "&#10;")


@pytest.mark.parametrize("script, what", [
    ("f = lambda: 1", "f is a lambda"),
    ("s = {1, 2}", "s is a set"),
    ("class C:\n    pass\nc = C()", "c is a C object"),
    ("x = [len]", "x[0] is a function"),
    ("d = {'k': date}", "d['k'] is a class"),
    ("def helper():\n    return 1\nkept = helper", "kept is a function"),
    ("big = 1e308 * 10", "big is inf (not a JSON number)"),
    ("d = {'x': [1e308 * -10]}", "d['x'][0] is -inf (not a JSON number)"),
    ("n = float('nan')", "n is nan (not a JSON number)"),
])
def test_non_json_task_data_is_refused_naming_the_element(engine, actors, script, what):
    engine.deploy(two_step(script=_script(script)))
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    with pytest.raises(ProcessError) as info:
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    problem = info.value.to_dict()
    assert problem["element_id"] == "compute", problem
    assert problem["sandbox"] == "NonJsonData", problem
    assert what in problem["message"], problem
    assert engine.get_case(case.id).tasks[0].element_id == "ask"  # nothing was saved


def test_script_helpers_and_plain_data_pass(engine, actors):
    script = "def double(x):\n    return x * 2\nresult = {'n': double(21), 'when': date(2027, 1, 31), 'pair': (1, 2)}"
    engine.deploy(two_step(script=_script(script)))
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert case.data["result"]["n"] == 42
    assert case.data["result"]["pair"] == [1, 2]
    assert "double" not in case.data


@pytest.mark.parametrize("expression", [
    " + ".join(["1"] * 300),
    " and ".join(["answer"] * 2000),
    "-" * 300 + "1",
    "answer" + "[0]" * 300,
])
def test_deep_expression_validates(engine, expression):
    lib = engine.validate(two_step(script=f"x = {expression}"))
    assert lib.errors == [], [str(p) for p in lib.errors]


@pytest.mark.parametrize("expression", [
    " + ".join(["1"] * 5000),
    "-" * 20000 + "1",
    "(" * 1000 + "1" + ")" * 1000,
    "[" * 5000 + "]" * 5000,
])
def test_too_deep_expression_is_a_clear_problem(engine, expression):
    lib = engine.validate(two_step(script=f"x = {expression}"))
    problems = [p for p in lib.errors if p.element_id == "compute"]
    assert problems, [str(p) for p in lib.errors]
    assert any("nested" in p.message or "deep" in p.message for p in problems), [str(p) for p in problems]
    with pytest.raises(DefinitionInvalid):
        engine.deploy(two_step(script=f"x = {expression}"))


def test_runaway_step_does_not_stall_other_engine_calls(db, actors):
    engine = Engine(db, script_time_limit=3.0)
    engine.deploy(two_step(pid="hostile", script=_script("rows = [[1] * 1000] * 50000\nflat = sum(rows, [])")))
    engine.deploy(two_step())
    hostile = engine.start_case("hostile", actors["applicant"], "lab-a")
    other = engine.start_case("two_step", actors["applicant"], "lab-a")
    order: list[str] = []
    started = threading.Event()

    def run_hostile():
        started.set()
        try:
            engine.complete_task(hostile.tasks[0].id, actors["applicant"], {"answer": "yes"})
        except ProcessError as exc:
            order.append(f"hostile stopped: {exc.details.get('sandbox')}")

    thread = threading.Thread(target=run_hostile)
    thread.start()
    started.wait()
    seen = engine.get_case(other.id)
    assert seen.tasks[0].element_id == "ask"
    assert [t.element_id for t in engine.ready_tasks(other.id)] == ["ask"]
    order.append("other answered")
    thread.join(timeout=120)
    assert order == ["other answered", "hostile stopped: ScriptTimeout"]


def _pattern_bundle():
    form = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "required": ["code"], "properties": {"code": {"type": "string", "pattern": "^(a+)+$"}}}
    body = ('<bpmn:startEvent id="start"/>' + user_task("ask", "Code", "code.json") + '<bpmn:endEvent id="end"/>'
            + flow("f1", "start", "ask") + flow("f2", "ask", "end"))
    return {"patterned.bpmn": process("patterned", {"applicant": ["start", "ask", "end"]}, body),
            "code.json": json.dumps(form)}


def test_form_pattern_cannot_backtrack(engine, actors):
    engine.deploy(_pattern_bundle())
    case = engine.start_case("patterned", actors["applicant"], "lab-a")
    with pytest.raises(InvalidFormData) as info:
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"code": "a" * 100_000 + "b"})
    assert info.value.errors[0]["field"] == "/code"
    case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"code": "aaa"})
    assert case.status == "completed"


def test_form_pattern_needing_backtracking_is_refused_at_deploy(engine):
    bundle = _pattern_bundle()
    form = json.loads(bundle["code.json"])
    form["properties"]["code"]["pattern"] = r"^(a)\1$"
    bundle["code.json"] = json.dumps(form)
    with pytest.raises(DefinitionInvalid) as info:
        engine.deploy(bundle)
    assert any(p.file == "code.json" and "/properties/code/pattern" in p.message for p in info.value.problems)


def test_simple_form_still_validates(engine):
    assert engine.validate(two_step()).errors == []
    assert json.loads(SIMPLE_FORM)


def test_dmn_cells_are_linted_at_validate(engine):
    from engine.definitions.bundles import read_directories

    from ..conftest import FORMS, PROCESSES

    files = read_directories(PROCESSES, FORMS)
    assert engine.validate(files).errors == []
    files["eligibility_check.dmn"] = (
        files["eligibility_check.dmn"]
        .replace("<text>months_in_operation</text>", "<text>months_in_operation.__class__</text>")
        .replace("<text>&lt; 6</text>", "<text>&lt; 6 " + "+ 1 " * 3000 + "</text>"))
    problems = {(p.file, p.element_id): p.message for p in engine.validate(files).errors}
    assert "__class__" in problems[("eligibility_check.dmn", "InputExpression_months_in_operation")]
    assert "characters long" in problems[("eligibility_check.dmn", "InputEntry_eligibility_check_2_1")]


def _timer_bundle(expression: str):
    from .test_messages_timers import timer_bundle

    bundle = timer_bundle()
    bundle["deadline.bpmn"] = bundle["deadline.bpmn"].replace('>"P3D"<', f">{expression}<")
    return bundle


def test_huge_timer_duration_is_refused_at_validate(engine):
    problems = [p for p in engine.validate(_timer_bundle('"P99999999999M"')).errors if p.element_id == "lapse"]
    assert problems and "longer than" in problems[0].message, [str(p) for p in problems]


def test_huge_computed_timer_duration_is_refused_naming_the_element(engine, actors):
    """SpiffWorkflow would loop once per month of the duration, in the engine's own thread."""
    engine.deploy(_timer_bundle('"P" + "9" * 12 + "M"'))
    with pytest.raises(ProcessError) as info:
        engine.start_case("deadline", actors["applicant"], "lab-a")
    assert info.value.details["element_id"] == "lapse", info.value.to_dict()
    assert "longer than" in info.value.message


def test_huge_multi_instance_cardinality_is_refused(engine, actors):
    inner = ("<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>10 ** 9</bpmn:loopCardinality>"
             "</bpmn:multiInstanceLoopCharacteristics>")
    body = ('<bpmn:startEvent id="start"/>' + user_task("each", "Each", None, inner=inner)
            + '<bpmn:endEvent id="end"/>' + flow("f1", "start", "each") + flow("f2", "each", "end"))
    engine.deploy({"many.bpmn": process("many", {"applicant": ["start", "each", "end"]}, body)})
    with pytest.raises(ProcessError) as info:
        engine.start_case("many", actors["applicant"], "lab-a")
    assert info.value.details["element_id"] == "each", info.value.to_dict()
    assert "cardinality" in info.value.message
