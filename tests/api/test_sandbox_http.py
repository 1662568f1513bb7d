"""Diagram code over HTTP: non-JSON task data is a 422 problem naming the element, and a runaway script
in one request does not stall another request."""
from __future__ import annotations

import threading

from ..engine.bpmn_builder import two_step
from .conftest import assert_problem


def _deploy(api, pid: str, script: str) -> None:
    api.services.engine.deploy(two_step(pid=pid, script=script.replace("\n", "&#10;")), deployed_by="tests")


def test_non_json_task_data_is_422_naming_the_script(api):
    _deploy(api, "leaky", "keep = lambda x: x")
    case = api.start(process_key="leaky")
    task = api.task(case, "ask", who="applicant_a")
    r = api.client("applicant_a").post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": "yes"}})
    body = assert_problem(r, 422)
    assert body["element_id"] == "compute", body
    assert "keep" in body["detail"] and "lambda" in body["detail"], body
    assert api.task(case, "ask", who="applicant_a")["id"] == task["id"]  # nothing was saved


def test_runaway_script_does_not_stall_other_requests(api):
    # one C call no signal can interrupt: stopped by the hard kill (time limit + grace)
    _deploy(api, "spinner", "rows = [[1] * 1000] * 50000\nflat = sum(rows, [])")
    hostile = api.start(process_key="spinner")
    other = api.start()
    task = api.task(hostile, "ask", who="applicant_a")
    order: list[str] = []
    started = threading.Event()
    outcome = {}

    def run_hostile():
        client = api.client("applicant_a")
        started.set()
        outcome["response"] = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": "yes"}})
        order.append("hostile answered")

    thread = threading.Thread(target=run_hostile)
    thread.start()
    started.wait()
    r = api.client("applicant_a").get(f"/api/cases/{other['id']}")
    assert r.status_code == 200, r.get_json()
    order.append("other answered")
    thread.join(timeout=120)
    assert order == ["other answered", "hostile answered"]
    body = assert_problem(outcome["response"], 422)
    assert body["element_id"] == "compute" and body.get("sandbox") == "ScriptTimeout", body
