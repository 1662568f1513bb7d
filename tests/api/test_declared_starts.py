"""A person starts a case only with what the diagram declares (issue 11, item 2): the start event's form, or no
data at all; never a process that is only called by others; never for an organisation that does not exist."""
from __future__ import annotations

from ..engine.bpmn_builder import SIMPLE_FORM, flow, process, user_task
from .conftest import assert_problem, fields_of


def _start_event(props: dict) -> str:
    inner = "".join(f'<spiffworkflow:property name="{k}" value="{v}"/>' for k, v in props.items())
    return (f'<bpmn:startEvent id="start"><bpmn:extensionElements><spiffworkflow:properties>{inner}'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:startEvent>')


def _bundle(pid: str, start_props: dict, role: str = "applicant") -> dict:
    body = (_start_event(start_props) + user_task("go", "Go on", None) + '<bpmn:endEvent id="end"/>'
            + flow("s1", "start", "go") + flow("s2", "go", "end"))
    return {f"{pid}.bpmn": process(pid, {role: ["start", "go", "end"]}, body), "simple.json": SIMPLE_FORM}


def test_data_a_start_event_does_not_declare_is_refused(api):
    alice = api.client("applicant_a")
    # two_step's start event has no form: a pre-set reviewer decision or certificate number is refused
    body = assert_problem(alice.post("/api/cases", json={"process": "two_step", "data": {
        "answer": "yes", "certificate_number": "FAKE-1"}}), 422)
    assert fields_of(body) == {"/data/answer", "/data/certificate_number"}
    assert "declares no form" in body["detail"]
    assert alice.post("/api/cases", json={"process": "two_step"}).status_code == 201


def test_a_start_form_is_the_only_way_in(api):
    api.services.engine.deploy(_bundle("with_start_form", {"formJsonSchemaFilename": "simple.json"}))
    alice = api.client("applicant_a")
    ok = alice.post("/api/cases", json={"process": "with_start_form", "data": {"answer": "yes"}})
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["data"]["answer"] == "yes"
    extra = assert_problem(alice.post("/api/cases", json={"process": "with_start_form", "data": {
        "answer": "yes", "membership_active": True}}), 422)
    assert fields_of(extra) == {"/data/membership_active"}
    missing = assert_problem(alice.post("/api/cases", json={"process": "with_start_form", "data": {}}), 422)
    assert fields_of(missing) == {"/data/answer"}
    wrong = assert_problem(alice.post("/api/cases", json={"process": "with_start_form", "data": {"answer": "maybe"}}),
                           422)
    assert fields_of(wrong) == {"/data/answer"}


def test_a_called_only_process_is_not_started_on_its_own(api):
    api.services.engine.deploy(_bundle("called_only", {"calledOnly": "true"}, role="inspector"))
    body = assert_problem(api.client("inspector").post("/api/cases", json={"process": "called_only",
                                                                           "organisation_id": "lab-a"}), 403)
    assert "started only by the processes that call it" in body["detail"]


def test_a_case_for_an_organisation_that_does_not_exist_is_refused(api):
    coordinator = api.client("coordinator")
    body = assert_problem(coordinator.post("/api/cases", json={"process": "inspected",
                                                               "organisation_id": "no-such-lab"}), 422)
    assert fields_of(body) == {"/organisation_id"}
    body = assert_problem(coordinator.post("/api/audits/for-cause", json={
        "organisation_id": "no-such-lab", "reason": "complaint"}), 422)
    assert fields_of(body) == {"/organisation_id"}
    assert coordinator.post("/api/cases", json={"process": "inspected", "organisation_id": "lab-a"}).status_code == 201
