"""A decision table's result is case data like a script's: an output the API could not answer with or the
database could not store (a timedelta, a text with a lone surrogate) stops the step with a ProcessError naming
the business rule task, and the case stays as it was."""
from __future__ import annotations

import html

import pytest

from engine.errors import ProcessError

from .bpmn_builder import SIMPLE_FORM, flow, process, user_task


def _dmn(output: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs_pick" name="Pick" '
            'namespace="http://accredit.test"><decision id="pick" name="Pick">'
            '<decisionTable id="table" hitPolicy="UNIQUE">'
            '<input id="in" label="Answer"><inputExpression id="in_expr" typeRef="string"><text>answer</text>'
            '</inputExpression></input><output id="out" label="Picked" name="picked" typeRef="string"/>'
            f'<rule id="rule"><inputEntry id="rule_in"><text>"yes"</text></inputEntry>'
            f'<outputEntry id="rule_out"><text>{html.escape(output)}</text></outputEntry></rule>'
            '</decisionTable></decision></definitions>\n')


def _bundle(output: str) -> dict:
    body = ('<bpmn:startEvent id="start"/>' + user_task("ask", "Ask", "simple.json")
            + '<bpmn:businessRuleTask id="decide" name="Decide"><bpmn:extensionElements>'
              '<spiffworkflow:calledDecisionId>pick</spiffworkflow:calledDecisionId></bpmn:extensionElements>'
              '</bpmn:businessRuleTask>'
            + user_task("after", "After", "simple.json") + '<bpmn:endEvent id="end"/>'
            + flow("f1", "start", "ask") + flow("f2", "ask", "decide") + flow("f3", "decide", "after")
            + flow("f4", "after", "end"))
    return {"decides.bpmn": process("decides", {"applicant": ["start", "ask", "decide", "after", "end"]}, body),
            "pick.dmn": _dmn(output), "simple.json": SIMPLE_FORM}


@pytest.mark.parametrize("output, words", [
    ('"a\\ud800"', "lone surrogate"),
    ("timedelta(days=1)", "timedelta"),
])
def test_an_unstorable_decision_result_is_a_process_error_naming_the_task(engine, actors, output, words):
    engine.deploy(_bundle(output))
    case = engine.start_case("decides", actors["applicant"], "lab-a")
    with pytest.raises(ProcessError) as info:
        engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert info.value.details["element_id"] == "decide" and words in info.value.message, info.value.to_dict()
    again = engine.get_case(case.id)
    assert [t.element_id for t in again.tasks] == ["ask"]


def test_a_plain_decision_result_is_kept(engine, actors):
    engine.deploy(_bundle('"approved"'))
    case = engine.start_case("decides", actors["applicant"], "lab-a")
    case = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert case.data["picked"] == "approved"
