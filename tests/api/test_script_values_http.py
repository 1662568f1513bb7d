"""What a script leaves in case data is what the API can answer with and the database can store: a value
that is not (a timedelta, a time of day, a date at the very edge of the range, a text with a lone surrogate)
is a 422 naming the element, and the case stays as it was — readable by everyone, as before. A timer value the
engine cannot compute is a 422 naming the timer: at deploy when it is a literal, at case start when computed."""
from __future__ import annotations

import pytest

from ..engine.bpmn_builder import two_step
from .conftest import assert_problem


def _deploy(api, pid: str, script: str) -> None:
    api.services.engine.deploy(two_step(pid=pid, script=script.replace("\n", "&#10;")), deployed_by="tests")


@pytest.mark.parametrize("script, words", [
    ("x = timedelta(days=1)", "x is a timedelta"),
    ("x = {'later': [timedelta(hours=2)]}", "x['later'][0] is a timedelta"),
    ("x = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))", "x is a date and time outside"),
    ("x = datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14)))", "x is a date and time outside"),
    ("x = 'a' + chr(0xD800)", "x is a text with a lone surrogate"),
    ("x = {chr(0xDC00): 1}", "x has a key that is a text with a lone surrogate"),
])
def test_a_value_the_api_cannot_answer_with_is_422_and_the_case_stays_readable(api, script, words):
    _deploy(api, "leaves", script)
    case = api.start(process_key="leaves")
    task = api.task(case, "ask", who="applicant_a")
    r = api.client("applicant_a").post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": "yes"}})
    body = assert_problem(r, 422)
    assert body["element_id"] == "compute" and words in body["detail"], body
    for who in ("applicant_a", "coordinator"):
        assert api.client(who).get(f"/api/cases/{case['id']}").status_code == 200
    assert api.task(case, "ask", who="applicant_a")["id"] == task["id"]  # nothing was saved


def test_dates_and_texts_a_script_leaves_are_answered(api):
    _deploy(api, "dated", "x = {'d': date(2027, 1, 31), 'dt': datetime(1, 1, 1, 9, tzinfo=timezone.utc), "
                          "'days': (date(2027, 2, 1) - date(2027, 1, 1)).days, 'text': 'caf\u00e9 \U0001F600'}")
    case = api.start(process_key="dated")
    task = api.task(case, "ask", who="applicant_a")
    r = api.client("applicant_a").post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": "yes"}})
    assert r.status_code == 200, r.get_json()
    assert api.client("coordinator").get(f"/api/cases/{case['id']}").status_code == 200


@pytest.mark.parametrize("expression, words", [
    ('"PT100000000H"', "longer than 1000 years"),
    ('"P0.5Y"', "fraction of year"),
])
def test_a_timer_value_the_engine_cannot_compute_is_422_at_deploy_and_at_case_start(api, expression, words):
    from .test_definitions_api import _with_timer, deploy

    body = assert_problem(deploy(api, _with_timer(expression)), 422)
    assert any(e.get("element_id") == "wait" and words in e["message"] for e in body["errors"]), body["errors"]
    computed = f"({expression}) if case_id else None"  # known only when a case reaches the timer
    assert deploy(api, _with_timer(computed)).status_code == 201
    r = api.client("applicant_a").post("/api/cases", json={"process": "timed"})
    body = assert_problem(r, 422)
    assert body["element_id"] == "wait" and words in body["detail"], body
    cases = api.client("coordinator").get("/api/cases?per_page=200")
    assert cases.status_code == 200, cases.get_json()
