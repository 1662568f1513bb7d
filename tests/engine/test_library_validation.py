"""A definition that fails validation is refused with every problem named: file, element, line."""
from __future__ import annotations

import pytest

from engine.errors import DefinitionInvalid
from engine.definitions.library import load_library

from .bpmn_builder import SIMPLE_FORM, flow, process, two_step, user_task


def _problems(files):
    lib = load_library(files)
    return lib, {(p.element_id or p.file, p.severity): p for p in lib.problems}


def test_shipped_style_bundle_is_valid():
    lib = load_library(two_step())
    assert lib.ok, [str(p) for p in lib.problems]
    assert "two_step" in lib.processes


def test_malformed_xml_names_file_and_line():
    files = {"broken.bpmn": '<?xml version="1.0"?>\n<bpmn:definitions xmlns:bpmn="x">\n<oops>\n</bpmn:definitions>\n'}
    lib = load_library(files)
    [problem] = lib.errors
    assert problem.file == "broken.bpmn" and problem.line == 4 and "well-formed" in problem.message


def test_xsd_invalid_names_line():
    bad = two_step()["two_step.bpmn"].replace('<bpmn:exclusiveGateway id="gw"', '<bpmn:exclusiveGateway bogus="1" id="gw"')
    lib = load_library({"two_step.bpmn": bad, "simple.json": SIMPLE_FORM})
    assert not lib.ok
    assert lib.errors[0].file == "two_step.bpmn" and lib.errors[0].line


def _bad_bundle():
    body = (
        '<bpmn:startEvent id="start"/>'
        + user_task("ask", "Ask", "simple.json")
        + user_task("mop", "Mop the floor", "missing.json")
        + user_task("nolane", "Nobody's task", "simple.json")
        + '<bpmn:scriptTask id="evil" name="Evil"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>'
        + '<bpmn:exclusiveGateway id="gw" name="Which?" default="f_b"/>'
        + '<bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition>'
          '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P30D</bpmn:timeDuration>'
          '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
        + '<bpmn:intermediateCatchEvent id="wait2" name="Wait more"><bpmn:timerEventDefinition>'
          '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P3X"</bpmn:timeDuration>'
          '</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'
        + '<bpmn:endEvent id="end"/>'
        + flow("f1", "start", "ask") + flow("f2", "ask", "mop") + flow("f3", "mop", "nolane")
        + flow("f4", "nolane", "evil") + flow("f5", "evil", "gw")
        + flow("f_a", "gw", "wait", "x.__class__ is None") + flow("f_b", "gw", "wait2", name="B")
        + flow("f6", "wait", "end") + flow("f7", "wait2", "end"))
    lanes = {"applicant": ["start", "ask", "evil", "gw", "wait", "wait2", "end"], "janitor": ["mop"]}
    return {"bad.bpmn": process("bad", lanes, body), "simple.json": SIMPLE_FORM,
            "broken_form.json": '{"type": "object", "properties": {"a": {"type": "nonsense"}}}'}


def test_every_problem_is_reported_at_once():
    lib = load_library(_bad_bundle())
    assert not lib.ok
    by_element = {}
    for p in lib.errors:
        by_element.setdefault(p.element_id or p.file, []).append(p.message)
    text = {k: " | ".join(v) for k, v in by_element.items()}
    assert "not a role" in text["mop"] and "missing.json" in text["mop"]
    assert "not in a lane" in text["nolane"]
    assert "import" in text["evil"]
    assert "__class__" in text["gw"]
    assert 'quote' in text["wait"]
    assert "ISO 8601" in text["wait2"]
    assert "JSON Schema" in text["broken_form.json"]
    for p in lib.errors:
        if p.element_id:
            assert p.file == "bad.bpmn" and p.line, p


def test_unresolvable_call_activity_and_missing_start():
    body = ('<bpmn:startEvent id="start"/><bpmn:callActivity id="call" name="Call" calledElement="nowhere"/>'
            '<bpmn:endEvent id="end"/>' + flow("f1", "start", "call") + flow("f2", "call", "end"))
    nostart = '<bpmn:endEvent id="lonely"/>'
    lib = load_library({"a.bpmn": process("a", {}, body), "b.bpmn": process("b", {}, nostart)})
    messages = " | ".join(str(p) for p in lib.errors)
    assert "nowhere" in messages
    assert "start event" in messages.lower()


def test_unlabeled_branch_and_missing_form_are_warnings():
    files = two_step()
    files["two_step.bpmn"] = files["two_step.bpmn"].replace(' name="Yes"', "")
    lib = load_library(files)
    assert lib.ok
    warnings = " | ".join(str(p) for p in lib.warnings)
    assert "unlabeled" in warnings and "f_yes" in warnings
    assert "review" in warnings and "no form" in warnings


def test_deploy_refuses_invalid_bundle_and_deploys_nothing(engine):
    with pytest.raises(DefinitionInvalid) as info:
        engine.deploy(_bad_bundle(), deployed_by="qm")
    assert len(info.value.problems) >= 7
    assert engine.definitions() == []


def test_team_properties_are_checked_at_deploy():
    """caseTeam names variables; revokesMembershipIf is sandboxed code like any other expression."""
    files = two_step()
    files["two_step.bpmn"] = files["two_step.bpmn"].replace(
        '<bpmn:userTask id="ask" name="Answer the question"><bpmn:extensionElements><spiffworkflow:properties>',
        '<bpmn:userTask id="ask" name="Answer the question"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="caseTeam" value="team_leader, inspectors[0]"/>'
        '<spiffworkflow:property name="revokesMembershipIf" value="__import__(\'os\')"/>')
    lib = load_library(files)
    errors = " | ".join(str(p) for p in lib.problems if p.severity == "error")
    assert "inspectors[0]" in errors and "not a variable name" in errors
    assert "revokesMembershipIf" in errors
    assert "team_leader'" not in errors


def _with_properties(element_open: str, props: dict[str, str]) -> tuple[dict, str]:
    """The two-step bundle with ``props`` added to the element whose opening tag is ``element_open``."""
    files = two_step()
    extra = "".join(f'<spiffworkflow:property name="{k}" value="{v}"/>' for k, v in props.items())
    text = files["two_step.bpmn"]
    if element_open + "<bpmn:extensionElements><spiffworkflow:properties>" in text:
        text = text.replace(element_open + "<bpmn:extensionElements><spiffworkflow:properties>",
                            element_open + "<bpmn:extensionElements><spiffworkflow:properties>" + extra)
    else:
        assert element_open in text
        text = text.replace(element_open, element_open.replace("/>", ">") + "<bpmn:extensionElements>"
                            "<spiffworkflow:properties>" + extra + "</spiffworkflow:properties></bpmn:extensionElements>"
                            + ("</bpmn:startEvent>" if element_open.endswith("/>") else ""))
    files["two_step.bpmn"] = text
    return files, text


def test_an_unknown_property_is_a_warning_with_the_near_miss():
    """A misspelt property would silently switch a rule off: the warning names the element, the property and
    what was probably meant; the bundle still deploys."""
    files, text = _with_properties('<bpmn:userTask id="ask" name="Answer the question">',
                                   {"showform": "simple.json", "colour": "red"})
    lib = load_library(files)
    assert lib.ok, [str(p) for p in lib.errors]
    warnings = {p.message: p for p in lib.problems if p.severity == "warning" and p.element_id == "ask"}
    near = next(p for m, p in warnings.items() if "'showform'" in m)
    assert "user task 'Answer the question'" in near.message and "did you mean showForms?" in near.message
    assert near.file == "two_step.bpmn" and near.line == text[:text.index('name="showform"')].count("\n") + 1
    far = next(m for m in warnings if "'colour'" in m)
    assert "did you mean" not in far and "no effect" in far


def test_a_property_on_the_wrong_element_is_an_error():
    files, _ = _with_properties('<bpmn:userTask id="ask" name="Answer the question">', {"calledOnly": "true"})
    lib = load_library(files)
    [error] = [p for p in lib.errors if p.element_id == "ask"]
    assert "calledOnly" in error.message and "start event" in error.message and "user task" in error.message
    assert error.file == "two_step.bpmn" and error.line


@pytest.mark.parametrize("name, value, words", [
    ("priority", "high", "is not an integer"),
    ("signatureMeaning", "approved", "is not one of approval, review, authorship"),
    ("shareWith", "applicant, labs", "'labs', which is not a role"),
    ("separateFrom", "a b", "not an element id"),
    ("formUiSchemaFilename", "ui schema", "is not a JSON file name"),
    ("showForms", "x y", "neither a form file"),
])
def test_a_bad_property_value_is_an_error_quoting_it(name, value, words):
    files, _ = _with_properties('<bpmn:userTask id="ask" name="Answer the question">', {name: value})
    lib = load_library(files)
    messages = [p.message for p in lib.errors if p.element_id == "ask" and p.line]
    assert any(name in m and repr(value) in m and words in m for m in messages), messages


def test_a_start_event_property_checked_where_it_is_read():
    files, _ = _with_properties('<bpmn:startEvent id="start"/>', {"calledOnly": "yes"})
    lib = load_library(files)
    [error] = [p for p in lib.errors if p.element_id == "start"]
    assert "calledOnly 'yes' is not true or false" in error.message
    files, _ = _with_properties('<bpmn:startEvent id="start"/>', {"calledOnly": "true"})
    assert load_library(files).ok


def test_the_vocabulary_declares_every_property_the_shipped_library_uses():
    """Every property of the shipped diagrams is declared, on an element it may sit on, with a good value:
    the shipped library validates without a single warning."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = {p.name: p.read_text() for d in ("processes", "forms") for p in (root / d).iterdir() if p.is_file()}
    lib = load_library(files)
    assert lib.problems == []
