"""Tiny BPMN documents for engine tests (no diagram interchange: the engine does not need it)."""
from __future__ import annotations

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
        'id="defs_{pid}" targetNamespace="http://accredit.test">\n')


def user_task(tid, name, form=None, extra_props=None, inner=""):
    props = dict(extra_props or {})
    if form:
        props["formJsonSchemaFilename"] = form
    ext = ""
    if props:
        ext = ("<bpmn:extensionElements><spiffworkflow:properties>"
               + "".join(f'<spiffworkflow:property name="{k}" value="{v}"/>' for k, v in props.items())
               + "</spiffworkflow:properties></bpmn:extensionElements>")
    return f'<bpmn:userTask id="{tid}" name="{name}">{ext}{inner}</bpmn:userTask>'


def process(pid, lanes: dict[str, list[str]], body: str, messages: str = "") -> str:
    """``lanes`` maps lane (role) name -> element ids in it."""
    lane_xml = "".join(
        f'<bpmn:lane id="lane_{name}" name="{name}">'
        + "".join(f"<bpmn:flowNodeRef>{e}</bpmn:flowNodeRef>" for e in ids) + "</bpmn:lane>"
        for name, ids in lanes.items())
    return (HEAD.format(pid=pid) + messages
            + f'<bpmn:process id="{pid}" name="{pid}" isExecutable="true">'
            + (f'<bpmn:laneSet id="ls_{pid}">{lane_xml}</bpmn:laneSet>' if lanes else "")
            + body + "</bpmn:process></bpmn:definitions>\n")


def flow(fid, src, dst, condition=None, name=None):
    label = f' name="{name}"' if name else ""
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}"{label}/>'
    return (f'<bpmn:sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}"{label}>'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'
            '</bpmn:sequenceFlow>')


SIMPLE_FORM = ('{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", '
               '"additionalProperties": false, "required": ["answer"], '
               '"properties": {"answer": {"type": "string", "enum": ["yes", "no"]}, '
               '"note": {"type": "string", "maxLength": 20}}}')


def two_step(pid="two_step", script="result = answer.upper()"):
    """start (applicant lane) → ask (applicant) → script → gateway → review (coordinator) | end_no."""
    body = (
        '<bpmn:startEvent id="start"/>'
        + user_task("ask", "Answer the question", "simple.json")
        + f'<bpmn:scriptTask id="compute" name="Compute"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
        + '<bpmn:exclusiveGateway id="gw" name="Yes?" default="f_no"/>'
        + user_task("review", "Review", None)
        + '<bpmn:endEvent id="end_yes" name="Done"/><bpmn:endEvent id="end_no" name="Refused"/>'
        + flow("f1", "start", "ask") + flow("f2", "ask", "compute") + flow("f3", "compute", "gw")
        + flow("f_yes", "gw", "review", 'answer == "yes"', "Yes") + flow("f_no", "gw", "end_no", name="No")
        + flow("f4", "review", "end_yes"))
    lanes = {"applicant": ["start", "ask", "compute", "gw", "end_no"], "coordinator": ["review", "end_yes"]}
    return {f"{pid}.bpmn": process(pid, lanes, body), "simple.json": SIMPLE_FORM}


def user_loop(pid="loop"):
    """start → again (applicant) → more? — 'yes' goes back to again, anything else ends: a loop whose
    every pass is one human task and one gateway."""
    body = ('<bpmn:startEvent id="start"/>' + user_task("again", "Again", "simple.json")
            + '<bpmn:exclusiveGateway id="more" name="More?" default="f_end"/><bpmn:endEvent id="end" name="Done"/>'
            + flow("f1", "start", "again") + flow("f2", "again", "more")
            + flow("f_again", "more", "again", 'answer == "yes"', "Again") + flow("f_end", "more", "end", name="Done"))
    return {f"{pid}.bpmn": process(pid, {"applicant": ["start", "again", "more", "end"]}, body),
            "simple.json": SIMPLE_FORM}
