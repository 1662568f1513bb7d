"""A diagram whose engine steps never reach a wait state is a 422 naming the element, not a request that never
returns while it holds the write lock (engine/workflow/stepping.py: a budget of engine steps and seconds per
call). The case is not created, or stays as it was, and the server goes on answering."""
from __future__ import annotations

import pytest

from engine.workflow import stepping

from ..engine.bpmn_builder import flow, process, two_step
from .conftest import assert_problem


def _script_loop(pid: str) -> dict:
    # start → gateway → script → back to the gateway; the way out is never taken
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:exclusiveGateway id="g" name="Again?" default="f_again"/>'
            '<bpmn:scriptTask id="count" name="Count"><bpmn:script>n = 1</bpmn:script></bpmn:scriptTask>'
            '<bpmn:endEvent id="end"/>'
            + flow("f1", "start", "g") + flow("f_again", "g", "count") + flow("f_out", "g", "end", "False")
            + flow("f3", "count", "g"))
    return {f"{pid}.bpmn": process(pid, {"applicant": ["start", "g", "count", "end"]}, body)}


def _parallel_feedback(pid: str) -> dict:
    # a parallel gateway whose second branch feeds back into the merge in front of it
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:exclusiveGateway id="merge" name="Merge"/>'
            '<bpmn:parallelGateway id="fork" name="Fork"/>'
            '<bpmn:endEvent id="end"/>'
            + flow("f1", "start", "merge") + flow("f2", "merge", "fork") + flow("f3", "fork", "end")
            + flow("f4", "fork", "merge"))
    return {f"{pid}.bpmn": process(pid, {"applicant": ["start", "merge", "fork", "end"]}, body)}


def _calls_itself(pid: str) -> dict:
    body = ('<bpmn:startEvent id="start"/>'
            f'<bpmn:callActivity id="again" name="Call myself" calledElement="{pid}"/>'
            '<bpmn:endEvent id="end"/>'
            + flow("f1", "start", "again") + flow("f2", "again", "end"))
    return {f"{pid}.bpmn": process(pid, {"applicant": ["start", "again", "end"]}, body)}


@pytest.mark.parametrize("diagram, element, said, seconds", [
    (_script_loop, {"g", "count"}, f"{stepping.MAX_ENGINE_STEPS:,} engine steps", None),
    # each pass of this one grows the tree: the time budget stops it (1 s: the test's patience, not the server's)
    (_parallel_feedback, {"merge", "fork", "end"}, "engine steps for more than 1 s", 1.0),
    (_calls_itself, {"start", "again", "end"}, f"nested more than {stepping.MAX_CALL_DEPTH} deep", None)])
def test_engine_steps_that_never_wait_are_a_422_naming_the_element_and_create_nothing(api, monkeypatch, diagram,
                                                                                      element, said, seconds):
    if seconds is not None:
        monkeypatch.setattr(stepping, "MAX_STEPPING_SECONDS", seconds)
    pid = diagram.__name__.strip("_")
    api.services.engine.deploy(diagram(pid), deployed_by="tests")
    r = api.client("applicant_a").post("/api/cases", json={"process": pid})
    body = assert_problem(r, 422)
    assert body["element_id"] in element and said in body["detail"], body
    listed = api.client("coordinator").get("/api/cases", query_string={"process": pid})
    assert listed.status_code == 200 and listed.get_json()["items"] == [], listed.get_json()
    # nothing is left holding the write lock: the next start goes through at once
    assert api.start()["status"] == "running"


def test_a_loop_after_a_task_is_a_422_and_the_task_stays_ready(api):
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:userTask id="ask" name="Ask"/>'
            '<bpmn:exclusiveGateway id="g" name="Again?" default="f_again"/>'
            '<bpmn:scriptTask id="count" name="Count"><bpmn:script>n = 1</bpmn:script></bpmn:scriptTask>'
            '<bpmn:endEvent id="end"/>'
            + flow("f0", "start", "ask") + flow("f1", "ask", "g") + flow("f_again", "g", "count")
            + flow("f_out", "g", "end", "False") + flow("f3", "count", "g"))
    api.services.engine.deploy({"after_task.bpmn": process("after_task", {"applicant": ["start", "ask", "g", "count",
                                                                                        "end"]}, body)},
                               deployed_by="tests")
    case = api.start(process_key="after_task")
    task = api.task(case, "ask", who="applicant_a")
    r = api.client("applicant_a").post(f"/api/tasks/{task['id']}/complete", json={"data": {}})
    assert assert_problem(r, 422)["element_id"] in {"g", "count"}
    assert api.task(case, "ask", who="applicant_a")["id"] == task["id"]  # nothing was saved
    history = api.client("coordinator").get(f"/api/cases/{case['id']}/history").get_json()
    assert not any(e["action"] == "task.completed" for e in history), history


def test_the_time_budget_stops_slow_steps_too(api, monkeypatch):
    # each step may take up to the sandbox's own time limit: the steps of one call share a time budget as well
    monkeypatch.setattr(stepping, "MAX_STEPPING_SECONDS", 0.0)
    api.services.engine.deploy(two_step(pid="slow"), deployed_by="tests")
    r = api.client("applicant_a").post("/api/cases", json={"process": "slow"})
    body = assert_problem(r, 422)
    assert "engine steps for more than 0 s" in body["detail"], body
