"""GET /api/catalogue: what a person may start or send comes from the deployed diagrams (start lanes, `sentBy`)."""
from __future__ import annotations

from .test_schedule_api import client, env  # noqa: F401  (the shipped library, real users)


def test_a_laboratory_may_start_an_application_and_send_a_change_notification(env):  # noqa: F811
    app, _ = env
    body = client(app, "alice").get("/api/catalogue").json
    keys = [p["key"] for p in body["processes"]]
    assert keys == ["accreditation", "membership"]  # not inspection (only called), not message-started ones
    accreditation = body["processes"][0]
    assert accreditation["role"] == "applicant" and "eligibility" in accreditation["description"]
    [change] = body["messages"]
    assert change["message"] == "change_notification" and change["process_key"] == "accreditation"
    assert change["form"]["required"] == ["change_type", "description"]
    assert "90 days" in change["description"]


def test_roles_without_a_start_lane_start_nothing(env):  # noqa: F811
    app, _ = env
    inspector = client(app, "insp.lead").get("/api/catalogue").json
    assert inspector == {"processes": [], "messages": []}
    coordinator = client(app, "carol").get("/api/catalogue").json
    assert coordinator["processes"] == [] and [m["message"] for m in coordinator["messages"]] == ["change_notification"]


def test_anonymous_callers_are_refused(env):  # noqa: F811
    app, _ = env
    assert app.test_client().get("/api/catalogue").status_code == 401


def test_staff_see_who_holds_a_role_and_laboratories_do_not(env):  # noqa: F811
    app, _ = env
    inspectors = client(app, "carol").get("/api/people?role=inspector").json
    assert {p["username"] for p in inspectors} == {"insp.lead", "insp2"}
    assert client(app, "alice").get("/api/people?role=inspector").status_code == 403
    bad = client(app, "carol").get("/api/people?role=wizard")
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "/role"


def test_a_change_notification_is_checked_against_its_form_on_the_server(env):  # noqa: F811
    """The page checks the form; the API is the boundary and checks it too, naming each field."""
    app, _ = env
    alice = client(app, "alice")
    r = alice.post("/api/messages/change_notification", json={"payload": {
        "change_type": "moved to the moon", "certificate_number": "FAKE"}})
    assert r.status_code == 422, r.json
    fields = {e["field"] for e in r.json["errors"]}
    assert fields == {"/payload/change_type", "/payload/certificate_number", "/payload/description"}
    # a valid notification with no accredited case waiting for it is simply not delivered (404), not refused
    r = alice.post("/api/messages/change_notification", json={"payload": {
        "change_type": "relocation", "description": "New building"}})
    assert r.status_code == 404, r.json
