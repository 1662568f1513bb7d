"""Confidentiality by allow-list, over real HTTP: every endpoint that returns case values, as every kind of
reader, never shows a laboratory or an inspector what the diagram does not share with them — and staff
still see it.

Planted secrets: a for-cause audit's confidential reason (in the `case.started` event and the case's
`audit_reason` / `trigger` variables), a staff-only internal note, a message payload delivered to a waiting
case, and an inspector's conflict-of-interest details (declared `staffOnlyVariables`)."""
from __future__ import annotations

import io

import pytest

from ..conftest import FORMS, PROCESSES
from .conftest import PASSWORD  # noqa: F401  (the template users' password)

REASON = "ZQXREASONK7"
NOTE = "ZQXNOTEM4"
PAYLOAD = "ZQXPAYLOADP9"
SECRETS = (REASON, NOTE, PAYLOAD)

NON_STAFF = ("applicant_a", "applicant_b", "inspector", "inspector2")
STAFF = ("coordinator", "auditor")


def _text(response) -> str:
    """What a reader gets: the body as text (a PDF: its extracted text)."""
    if response.mimetype == "application/pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(response.data)).pages)
    return response.get_data(as_text=True)


def _case_urls(case_id: str, task_ids) -> list[str]:
    urls = [f"/api/cases/{case_id}", f"/api/cases/{case_id}/history", f"/api/cases/{case_id}/history?action=case.*",
            f"/api/cases/{case_id}/history/export?format=csv", f"/api/cases/{case_id}/history/export?format=json",
            f"/api/cases/{case_id}/record.pdf", f"/api/cases/{case_id}/comments",
            f"/api/cases/{case_id}/history/elements", f"/api/cases/{case_id}/signatures",
            f"/api/cases/{case_id}/attachments"]
    return urls + [f"/api/tasks/{t}" for t in task_ids]


GLOBAL_URLS = ["/api/cases?per_page=100", "/api/tasks?per_page=100", "/api/notifications", "/api/schedule"]


@pytest.fixture
def world(api):
    """A for-cause audit of lab-a planned with ivan on the team (iris is not), with an internal note; and a
    lab-a case that received a message from the coordinator."""
    from engine.definitions.bundles import read_directories

    api.services.engine.deploy(read_directories(PROCESSES, FORMS), deployed_by="tests")
    from engine.actors import Actor

    carol = api.client("coordinator")
    # lab-a has no accreditation here (a for-cause audit over HTTP needs one: tests/api/test_schedule_api.py),
    # so the audit is started as the surveillance process itself, with the same confidential reason
    started = api.services.engine.start_case("surveillance_audit", Actor("carol", {"coordinator"}, None, "Carol"),
                                             "lab-a", {"audit_type": "for_cause", "reason": f"Complaint {REASON}"})
    audit = carol.get(f"/api/cases/{started.id}").get_json()
    [plan] = [t for t in audit["tasks"] if t["element_id"] == "plan_surveillance_audit"]
    r = carol.post(f"/api/tasks/{plan['id']}/complete", json={"data": {
        "team_leader": "ivan", "inspectors": [], "inspection_date": "2028-03-01", "inspection_mode": "virtual"}})
    assert r.status_code == 200, r.get_json()
    r = carol.post(f"/api/cases/{audit['id']}/comments", json={"body": f"Internal {NOTE}", "internal": True})
    assert r.status_code == 201, r.get_json()
    audit_tasks = [t["id"] for t in carol.get(f"/api/cases/{audit['id']}").get_json()["tasks"]]
    assert audit_tasks, "the inspection should wait for ivan's checklist"

    parent = api.start("applicant_a", "parent")
    r = api.client("applicant_a").post(f"/api/tasks/{parent['tasks'][0]['id']}/complete",
                                       json={"data": {"answer": "yes"}})
    assert r.status_code == 200, r.get_json()
    r = carol.post("/api/messages/child_done", json={"case_id": parent["id"], "payload": {"ok": PAYLOAD}})
    assert r.status_code == 202, r.get_json()
    return {"audit": (audit["id"], audit_tasks), "message": (parent["id"], [])}


def test_no_secret_reaches_a_laboratory_or_an_inspector_anywhere(api, world):
    audit_id, audit_tasks = world["audit"]
    assert api.client("inspector").get(f"/api/cases/{audit_id}").status_code == 200  # ivan is on the team
    assert api.client("inspector2").get(f"/api/cases/{audit_id}").status_code == 404  # iris is not
    assert api.client("applicant_a").get(f"/api/cases/{audit_id}").status_code == 200  # own organisation
    assert api.client("applicant_b").get(f"/api/cases/{audit_id}").status_code == 404  # another one

    leaks, seen = [], 0
    for who in NON_STAFF:
        client = api.client(who)
        urls = GLOBAL_URLS + [u for case_id, tasks in world.values() for u in _case_urls(case_id, tasks)]
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, (who, url, response.status_code)
            if response.status_code != 200:
                assert response.status_code in (403, 404), (who, url, response.status_code)
                continue
            seen += 1
            body = _text(response)
            leaks += [(who, url, s) for s in SECRETS if s in body]
    assert leaks == []
    assert seen > 30  # the laboratory and the assigned inspector really read these cases


@pytest.mark.parametrize("who", STAFF)
def test_staff_still_read_every_secret(api, world, who):
    audit_id, _ = world["audit"]
    message_case, _ = world["message"]
    client = api.client(who)
    for url in (f"/api/cases/{audit_id}/history", f"/api/cases/{audit_id}/history/export?format=json",
                f"/api/cases/{audit_id}/history/export?format=csv", f"/api/cases/{audit_id}/record.pdf"):
        body = _text(client.get(url))
        assert REASON in body and NOTE in body, url
    assert REASON in client.get(f"/api/cases/{audit_id}").get_data(as_text=True)
    for url in (f"/api/cases/{message_case}/history", f"/api/cases/{message_case}/history/export?format=csv"):
        assert PAYLOAD in _text(client.get(url)), url


def test_unknown_event_types_and_keys_are_dropped_for_non_staff(api):
    """The allow-list, not a deny-list: a kind of event the redactor does not know shows no data."""
    from engine.users.redaction import Redactor

    case = api.start("applicant_a", "two_step")
    with api.services.db.read() as s:
        from engine.storage.models import Case

        definition = s.get(Case, case["id"]).definition
        alice = api.services.identity.actor("alice")
        carol = api.services.identity.actor("carol")
        lab, staff = Redactor(api.services.engine, definition, alice), Redactor(api.services.engine, definition, carol)
    event = {"action": "case.something_new", "data": {"secret": REASON}}
    assert lab.event(event)["data"] == {"redacted": True}
    assert staff.event(event) == event
    ended = lab.event({"action": "case.ended", "data": {"outcome": "awarded", "extra": REASON}})
    assert ended["data"] == {"outcome": "awarded", "redacted": True}
    started = lab.event({"action": "case.started", "data": {"business_key": "K", "data": {"answer": 1, "x": REASON}}})
    assert started["data"] == {"business_key": "K", "data": {"answer": 1}, "redacted": True}


def test_conflict_of_interest_details_are_staff_only(api):
    """Declared staffOnlyVariables hide an inspector's declaration from the laboratory and other inspectors."""
    from engine.users import redaction
    from engine.definitions.bundles import read_directories
    from engine.storage.models import ProcessDefinition

    import sqlalchemy as sa

    api.services.engine.deploy(read_directories(PROCESSES, FORMS), deployed_by="tests")
    engine = api.services.engine
    with api.services.db.read() as s:
        definition = s.scalar(sa.select(ProcessDefinition).where(ProcessDefinition.key == "accreditation"))
        ivan = api.services.identity.actor("ivan")
        alice = api.services.identity.actor("alice")
        assert "coi_details" in engine.specs.visible_variables(definition, ivan.roles)  # his lane's form
        assert "coi_details" not in redaction.allowed_variables(engine, definition, ivan)
        assert "coi_declarations" not in redaction.allowed_variables(engine, definition, alice)
        event = {"action": "task.completed", "data": {"submitted": {"conflict_of_interest": True,
                                                                    "coi_details": NOTE}}}
        assert NOTE not in str(redaction.Redactor(engine, definition, ivan).event(event))
