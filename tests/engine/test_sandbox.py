"""The diagram-code sandbox, exercised through real SpiffWorkflow workflows."""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine.sandbox import (
    RestrictedEnvironment,
    SandboxViolation,
    ScriptTimeout,
    lint,
    make_script_engine,
)

BPMN_NS = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" ' \
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" ' \
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def script_gateway_xml(script: str, condition: str = "total > 10") -> bytes:
    """start -> script task -> exclusive gateway (condition / default) -> end."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {BPMN_NS} id="defs" targetNamespace="http://example.org/accredit">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script"/>
    <bpmn:scriptTask id="script" name="Compute">
      <bpmn:script>{escape(script)}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" default="to_small"/>
    <bpmn:sequenceFlow id="to_big" sourceRef="gw" targetRef="end_big">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_small" sourceRef="gw" targetRef="end_small"/>
    <bpmn:endEvent id="end_big"/>
    <bpmn:endEvent id="end_small"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def user_task_xml(pre: str, post: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {BPMN_NS} id="defs" targetNamespace="http://example.org/accredit">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="review"/>
    <bpmn:userTask id="review" name="Review">
      <bpmn:extensionElements>
        <spiffworkflow:preScript>{escape(pre)}</spiffworkflow:preScript>
        <spiffworkflow:postScript>{escape(post)}</spiffworkflow:postScript>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def business_rule_xml() -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {BPMN_NS} id="defs" targetNamespace="http://example.org/accredit">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:businessRuleTask id="decide" name="Classify risk">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>risk_decision</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def risk_dmn_xml(input_expression: str = "len(findings) * weight") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="risk_defs" name="Risk"
             namespace="http://example.org/accredit">
  <decision id="risk_decision" name="Risk classification">
    <decisionTable id="risk_table" hitPolicy="UNIQUE">
      <input id="in_score" label="Score">
        <inputExpression id="in_score_expr" typeRef="integer">
          <text>{escape(input_expression)}</text>
        </inputExpression>
      </input>
      <output id="out_risk" label="Risk" name="risk" typeRef="string"/>
      <rule id="rule_low">
        <inputEntry id="rule_low_in"><text>&lt; 10</text></inputEntry>
        <outputEntry id="rule_low_out"><text>"low"</text></outputEntry>
      </rule>
      <rule id="rule_high">
        <inputEntry id="rule_high_in"><text>&gt;= 10</text></inputEntry>
        <outputEntry id="rule_high_out"><text>"high"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>""".encode()


def make_workflow(bpmn: bytes, *, dmn: bytes | None = None, script_engine=None, **data) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(bpmn)
    if dmn is not None:
        parser.add_dmn_str(dmn)
    workflow = BpmnWorkflow(parser.get_spec("p"), script_engine=script_engine or make_script_engine())
    if data:
        workflow.get_next_task(spec_name="start").data.update(data)
    return workflow


def completed_end(workflow: BpmnWorkflow) -> str:
    ends = [t.task_spec.name for t in workflow.get_tasks(state=TaskState.COMPLETED)
            if t.task_spec.name.startswith("end")]
    assert len(ends) == 1, ends
    return ends[0]


def original_error(exc: BaseException) -> BaseException:
    """The exception SpiffWorkflow wrapped.

    WorkflowTaskException keeps only the wrapped exception's class name
    (``error_type``); the exception itself is reachable as ``__context__``.
    """
    inner = exc
    while isinstance(inner, WorkflowTaskException) and (inner.__cause__ or inner.__context__):
        inner = inner.__cause__ or inner.__context__
    assert inner is not exc, exc
    return inner


def run_failing(workflow: BpmnWorkflow) -> BaseException:
    """Run engine steps expecting a failure; return the sandbox's exception."""
    with pytest.raises(WorkflowTaskException) as info:
        workflow.do_engine_steps()
    return original_error(info.value)


# --------------------------------------------------------------------------
# Normal scripts and conditions
# --------------------------------------------------------------------------

NORMAL_SCRIPT = """\
total = price * quantity + 2 ** 3
counter = 0
counter += 1
counter *= 5
label = "lab"
label += "-42"
lab = {"name": "Cell lab", "sites": []}
lab["sites"].append("north")
lab["sites"].extend(["south", "east"])
lab["count"] = len(lab["sites"])
lab["count"] += 10
squares = [n * n for n in range(5) if n % 2 == 0]
index = {site: i for i, site in enumerate(lab["sites"])}
summary = f"{lab['name']} has {len(lab['sites'])} sites, total={total:.1f}"
due = datetime(2024, 1, 31) + timedelta(days=30)
days_left = (due - datetime(2024, 2, 1)).days
today_type = date(2024, 3, 1).isoformat()
people = [{"name": "b", "age": 40}, {"name": "a", "age": 30}]
by_age = [p["name"] for p in sorted(people, key=lambda p: p["age"])]
pairs = []
for key, value in sorted({"y": 2, "x": 1}.items()):
    pairs.append(key + str(value))
first, (second, third) = 1, (2, 3)
stats = (min(squares), max(squares), sum(squares), round(2.567, 1), abs(-3))
flags = (any(squares), all(squares), isinstance(total, float), bool(0))
mapped = list(map(str, filter(lambda n: n > 0, reversed(squares))))
zipped = dict(zip(["a", "b"], (1, 2)))
letters = list("abc") + sorted(set("cab"))
def helper(x):
    return x * 2
doubled = helper(21)
"""


def test_normal_script_runs_and_lands_in_task_data():
    workflow = make_workflow(script_gateway_xml(NORMAL_SCRIPT), price=2.5, quantity=4)
    workflow.do_engine_steps()

    assert workflow.is_completed()
    data = workflow.last_task.data
    assert data["total"] == 18.0
    assert data["counter"] == 5
    assert data["label"] == "lab-42"
    assert data["lab"] == {"name": "Cell lab", "sites": ["north", "south", "east"], "count": 13}
    assert data["squares"] == [0, 4, 16]
    assert data["index"] == {"north": 0, "south": 1, "east": 2}
    assert data["summary"] == "Cell lab has 3 sites, total=18.0"
    assert data["due"] == datetime(2024, 3, 1)
    assert data["days_left"] == 29
    assert data["today_type"] == "2024-03-01"
    assert data["by_age"] == ["a", "b"]
    assert data["pairs"] == ["x1", "y2"]
    assert (data["first"], data["second"], data["third"]) == (1, 2, 3)
    # task data crosses the sandbox boundary as JSON: tuples come back as lists (as after a reload)
    assert data["stats"] == [0, 16, 20, 2.6, 3]
    assert data["flags"] == [True, False, True, False]
    assert data["mapped"] == ["16", "4"]
    assert data["zipped"] == {"a": 1, "b": 2}
    assert data["letters"] == ["a", "b", "c", "a", "b", "c"]
    assert data["doubled"] == 42
    # functions, builtins and guards do not leak into task data
    for leaked in ("helper", "__builtins__", "_getattr_", "_print", "datetime", "timedelta"):
        assert leaked not in data


@pytest.mark.parametrize(
    ("price", "expected_end"),
    [(5, "end_big"), (1, "end_small")],
)
def test_gateway_condition_picks_the_right_branch(price, expected_end):
    workflow = make_workflow(
        script_gateway_xml("total = price * quantity", condition="total > 10 and 'x' in tags"),
        price=price,
        quantity=3,
        tags=["x"],
    )
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert completed_end(workflow) == expected_end


def test_print_is_collected_not_written(capsys):
    workflow = make_workflow(script_gateway_xml('print("hello", 1)\ntotal = 0'))
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------
# Escapes are refused and never executed
# --------------------------------------------------------------------------

ESCAPES = [
    pytest.param("import os\nos.mkdir(marker)", "imports are not allowed in diagram scripts (line 2: import os)",
                 id="import"),
    pytest.param("from os import mkdir\nmkdir(marker)", "imports are not allowed", id="from-import"),
    pytest.param("open(marker, 'w').write('pwned')", "'open' is not available", id="open"),
    pytest.param(
        "io = [c for c in ().__class__.__bases__[0].__subclasses__() if c.__name__ == 'FileIO'][0]\n"
        "io(marker, 'w')",
        '"__class__" is an invalid attribute name',
        id="subclasses",
    ),
    pytest.param(
        "base = getattr(getattr((), '__class__'), '__bases__')[0]\n"
        "[c for c in base.__subclasses__() if c.__name__ == 'FileIO'][0](marker, 'w')",
        "__subclasses__",
        id="getattr-dunder-static",
    ),
    pytest.param(
        "cls = getattr(marker, '__class__')\nopen_ = cls",
        "access to attribute '__class__' is not allowed",
        id="getattr-dunder",
    ),
    pytest.param("leak = '{0.__class__}'.format(1)", "str.format() is not allowed", id="str-format"),
    pytest.param("eval(\"open(marker, 'w')\")", "Eval calls are not allowed", id="eval"),
    pytest.param("__import__('os').mkdir(marker)", '"__import__" is an invalid variable name', id="dunder-import"),
    pytest.param("exec(\"open(marker, 'w')\")", "Exec calls are not allowed", id="exec"),
    pytest.param("g = globals()", "'globals' is not available", id="globals"),
    pytest.param("t = type(marker)", "'type' is not available", id="type"),
]


@pytest.mark.parametrize(("script", "message"), ESCAPES)
def test_escapes_are_refused_and_not_executed(tmp_path, script, message):
    marker = tmp_path / "pwned"
    workflow = make_workflow(script_gateway_xml("ran_before = True\n" + script), marker=str(marker))

    error = run_failing(workflow)

    assert isinstance(error, SandboxViolation)
    assert message in str(error)
    assert not marker.exists()


def test_static_refusal_runs_nothing_at_all(tmp_path):
    workflow = make_workflow(script_gateway_xml("ran_before = True\nimport os"))
    run_failing(workflow)
    script_task = workflow.get_next_task(spec_name="script")
    assert "ran_before" not in script_task.data


def test_unrestricted_engine_would_have_created_the_marker(tmp_path):
    """Control: the escape scripts above really do harm without the sandbox."""
    marker = tmp_path / "pwned"
    workflow = make_workflow(
        script_gateway_xml("import os\nos.mkdir(marker)\ntotal = 0"),
        script_engine=PythonScriptEngine(),
        marker=str(marker),
    )
    workflow.do_engine_steps()
    assert marker.exists()


def test_refused_gateway_condition():
    workflow = make_workflow(script_gateway_xml("total = 1", condition="total.__class__ is int"))
    error = run_failing(workflow)
    assert isinstance(error, SandboxViolation)
    assert "__class__" in str(error)


def test_violation_carries_every_problem():
    env = RestrictedEnvironment()
    with pytest.raises(SandboxViolation) as info:
        env.execute("import os\nx = ().__class__", {})
    assert len(info.value.problems) == 2
    assert "line 1" in info.value.problems[0]
    assert "line 2" in info.value.problems[1]


def test_missing_variable_is_still_a_name_error():
    env = RestrictedEnvironment()
    with pytest.raises(NameError):
        env.evaluate("not_in_data > 1", {})


def test_task_data_may_shadow_sandbox_names():
    """A form field called 'type' or 'date' is ordinary task data."""
    env = RestrictedEnvironment()
    assert env.evaluate("type == 'audit' and date == '2024-01-01'", {"type": "audit", "date": "2024-01-01"})


@pytest.mark.parametrize(
    "script",
    [
        "x = 'a' * 10**8",
        "x = [0]\nx *= 10**8",
        "x = 10 ** 10 ** 9",
        "x = pow(10, 10**9)",
        "x = list(range(10**9))",
        "x = 1 << 10**9",
        "x = 2 ** 900000\nx = x * x",
        "x = math.factorial(10**7)",
        "x = 'a'.ljust(10**9)",
        "x = random.randbytes(10**9)",
        "x = random.choices([1], k=10**9)",
    ],
)
def test_allocation_limits(script):
    with pytest.raises(SandboxViolation, match="sandbox"):
        RestrictedEnvironment().execute(script, {})


def test_sandbox_modules_still_work():
    data = {}
    RestrictedEnvironment().execute(
        "a = math.factorial(10)\nb = math.prod([2, 3])\nc = 'x'.rjust(3)\n"
        "random.seed(7)\nd = random.randint(1, 6)\ne = string.ascii_lowercase[:3]",
        data,
    )
    assert (data["a"], data["b"], data["c"], data["e"]) == (3628800, 6, "  x", "abc")
    assert 1 <= data["d"] <= 6


def test_expression_with_leading_whitespace_like_builtin_eval():
    assert RestrictedEnvironment().evaluate("  \t n + 1", {"n": 1}) == 2


# --------------------------------------------------------------------------
# Time limit
# --------------------------------------------------------------------------

def test_infinite_loop_in_script_task_times_out():
    before = sys.gettrace()
    workflow = make_workflow(script_gateway_xml("while True: pass"), script_engine=make_script_engine(0.3))
    error = run_failing(workflow)
    assert isinstance(error, ScriptTimeout)
    assert "time limit" in str(error)
    assert sys.gettrace() is before


def test_busy_loop_with_assignment_times_out():
    workflow = make_workflow(script_gateway_xml("while True:\n    x = 1"), script_engine=make_script_engine(0.3))
    assert isinstance(run_failing(workflow), ScriptTimeout)


def test_infinite_gateway_condition_times_out():
    before = sys.gettrace()
    workflow = make_workflow(
        script_gateway_xml("total = 1", condition="[x for x in iter(int, 1)]"),
        script_engine=make_script_engine(0.3),
    )
    error = run_failing(workflow)
    assert isinstance(error, ScriptTimeout)
    assert sys.gettrace() is before


@pytest.mark.parametrize(
    "script",
    [
        pytest.param("total = sum(iter(int, 1))", id="c-consumer"),
        pytest.param(
            "while True:\n    try:\n        while True: pass\n    except Exception:\n        pass",
            id="swallow-attempt",
        ),
        pytest.param("def f():\n    while True:\n        pass\nf()", id="in-function"),
    ],
)
def test_timeout_cannot_be_dodged(script):
    env = RestrictedEnvironment(time_limit=0.3)
    with pytest.raises(ScriptTimeout):
        env.execute(script, {})


@pytest.mark.parametrize(
    "script",
    ["try:\n    x = 1\nexcept:\n    pass", "try:\n    x = 1\nfinally:\n    pass", "x = BaseException"],
)
def test_constructs_that_could_swallow_the_timeout_are_refused(script):
    with pytest.raises(SandboxViolation):
        RestrictedEnvironment().execute(script, {})


def test_previous_trace_function_is_restored():
    calls = []

    def tracer(frame, event, arg):
        calls.append(event)
        return None

    env = RestrictedEnvironment(time_limit=0.3)
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        assert env.evaluate("1 + 1", {}) == 2
        assert sys.gettrace() is tracer
        with pytest.raises(ScriptTimeout):
            env.execute("while True: pass", {})
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)


def test_time_limit_works_in_other_threads():
    env = RestrictedEnvironment(time_limit=0.3)
    outcome = {}

    def worker():
        try:
            env.execute("while True: pass", {})
        except ScriptTimeout as exc:
            outcome["error"] = exc
        outcome["trace"] = sys.gettrace()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert isinstance(outcome["error"], ScriptTimeout)
    assert outcome["trace"] is None


# --------------------------------------------------------------------------
# lint
# --------------------------------------------------------------------------

def test_lint_clean_script():
    assert lint(NORMAL_SCRIPT, "exec") == []
    assert lint("total > 10 and 'x' in tags", "eval") == []


def test_lint_reports_problems_with_line_numbers():
    problems = lint("x = 1\nimport os\ny = x.__class__\nz = open('f')", "exec")
    assert problems == [
        "imports are not allowed in diagram scripts (line 2: import os)",
        '"__class__" is an invalid attribute name because it starts with "_" (line 3: y = x.__class__)',
        "'open' is not available in diagram scripts (line 4: z = open('f'))",
    ]


def test_lint_reports_syntax_errors():
    (problem,) = lint("x = 1\ny = = 2", "exec")
    assert problem.startswith("syntax error (line 2:")
    (problem,) = lint("x = 1", "eval")
    assert problem.startswith("syntax error (line 1:")


def test_lint_does_not_run_code(tmp_path):
    marker = tmp_path / "pwned"
    assert lint(f"open({str(marker)!r}, 'w')", "exec")
    assert not marker.exists()


# --------------------------------------------------------------------------
# DMN and pre/post scripts
# --------------------------------------------------------------------------

@pytest.mark.parametrize(("findings", "expected"), [(["a"], "low"), (["a", "b", "c"], "high")])
def test_dmn_decision_evaluates_through_the_sandbox(findings, expected):
    workflow = make_workflow(business_rule_xml(), dmn=risk_dmn_xml(), findings=findings, weight=4)
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.last_task.data["risk"] == expected


def test_dmn_input_expression_is_restricted():
    workflow = make_workflow(
        business_rule_xml(), dmn=risk_dmn_xml("findings.__class__"), findings=[], weight=1
    )
    error = run_failing(workflow)
    assert isinstance(error, SandboxViolation)
    assert "__class__" in str(error)


def test_pre_and_post_scripts_run_restricted():
    workflow = make_workflow(
        user_task_xml(pre="greeting = f'hello {who}'", post="checked = len(greeting)"), who="lab"
    )
    workflow.do_engine_steps()
    task = workflow.get_next_task(state=TaskState.READY, manual=True)
    assert task.data["greeting"] == "hello lab"
    task.run()
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.last_task.data["checked"] == 9


def test_refused_pre_script():
    workflow = make_workflow(user_task_xml(pre="import os", post="x = 1"))
    error = run_failing(workflow)
    assert isinstance(error, SandboxViolation)
    assert "imports are not allowed" in str(error)


def test_refused_post_script_and_timeout():
    workflow = make_workflow(
        user_task_xml(pre="x = 1", post="while True: pass"), script_engine=make_script_engine(0.3)
    )
    workflow.do_engine_steps()
    task = workflow.get_next_task(state=TaskState.READY, manual=True)
    with pytest.raises(WorkflowTaskException) as info:
        task.run()
    assert info.value.error_type == "ScriptTimeout"
    assert isinstance(original_error(info.value), ScriptTimeout)


def test_environment_globals_behave_like_task_data_environment():
    env = RestrictedEnvironment({"double": lambda x: x * 2})
    data = {"n": 4}
    env.execute("m = double(n)", data)
    assert data == {"n": 4, "m": 8}
    assert env.evaluate("double(m)", data) == 16
    with pytest.raises(ValueError, match="overwrites a predefined"):
        env.execute("x = 1", {"double": 3})
