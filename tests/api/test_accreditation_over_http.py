"""The shipped accreditation process, from the eligibility application to the award, purely over HTTP:
each person signs in (token or session), finds the task in their inbox, reads its form, uploads evidence
and completes it. Attachment ids in the form data are the sha256 of files uploaded to the case."""
from __future__ import annotations

import hashlib
import io
from datetime import datetime, timezone
from pathlib import Path

import pytest
import time_machine

from .conftest import PASSWORD, PDF, assert_problem, fields_of

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)

pytestmark = pytest.mark.skipif(not (ROOT / "processes" / "accreditation.bpmn").exists(),
                                reason="processes/accreditation.bpmn is not there yet")

ELIGIBILITY = {"organisation_name": "Lab A Cell Therapy", "scope": ["collection", "processing"],
               "sites": [{"name": "Main", "address": "1 Lab Road, Leeds"}], "months_in_operation": 24,
               "membership_number": "M-0001", "membership_active": True}


def _evidence(name: str) -> bytes:
    return PDF.replace(b"%%EOF", f"% {name}\n%%EOF".encode())


class Person:
    """One signed-in user working their inbox over HTTP."""

    def __init__(self, api, who, via="token"):
        self.client, self.name = api.client(who, via=via), api.username(who)

    def inbox(self, case_id) -> list[dict]:
        r = self.client.get(f"/api/tasks?case_id={case_id}&per_page=200")
        assert r.status_code == 200, r.get_json()
        return r.get_json()["items"]

    def task(self, case_id, element_id) -> dict:
        mine = [t for t in self.inbox(case_id) if t["element_id"] == element_id]
        assert len(mine) == 1, (self.name, element_id, [t["element_id"] for t in self.inbox(case_id)])
        detail = self.client.get(f"/api/tasks/{mine[0]['id']}").get_json()
        if mine[0]["form"]:  # the form travels with the task: its JSON Schema and current values
            assert detail["form"]["name"] == mine[0]["form"] and detail["form"]["schema"]["type"] == "object"
        return detail

    def do(self, case_id, element_id, data) -> dict:
        task = self.task(case_id, element_id)
        body = {"data": data}
        if task["signature_meaning"]:  # an electronic signature: the password is re-entered
            body["signature"] = {"password": PASSWORD}
        r = self.client.post(f"/api/tasks/{task['id']}/complete", json=body)
        assert r.status_code == 200, (self.name, element_id, r.get_json())
        return r.get_json()

    def upload(self, case_id, filename, content) -> str:
        r = self.client.post(f"/api/cases/{case_id}/attachments",
                             data={"file": (io.BytesIO(content), filename, "application/pdf")},
                             content_type="multipart/form-data")
        assert r.status_code == 201, r.get_json()
        return r.get_json()["sha256"]


def test_accreditation_from_application_to_award(make_api):
    api = make_api("shipped", DEPLOY_SHIPPED=True)
    with time_machine.travel(T0, tick=False):
        alice = Person(api, "applicant_a", via="session")
        carol, ivan, iris, cody = (Person(api, w) for w in ("coordinator", "inspector", "inspector2", "committee"))
        bob, auditor = Person(api, "applicant_b"), Person(api, "auditor")

        keys = {d["key"] for d in carol.client.get("/api/process-definitions").get_json()}
        assert {"accreditation", "inspection"} <= keys
        assert_problem(carol.client.post("/api/cases", json={"process": "accreditation",
                                                             "organisation_id": "lab-a"}), 403)
        r = alice.client.post("/api/cases", json={"process": "accreditation", "business_key": "ACC-LAB-A-1"})
        assert r.status_code == 201, r.get_json()
        case_id = r.get_json()["id"]

        # 1 eligibility: the form is served with the task; a bad submission names the field
        task = alice.task(case_id, "eligibility_application")
        assert "scope" in task["form"]["schema"]["properties"]
        bad = alice.client.post(f"/api/tasks/{task['id']}/complete", json={"data": {**ELIGIBILITY, "scope": []}})
        assert "/scope" in fields_of(assert_problem(bad, 422))
        case = alice.do(case_id, "eligibility_application", ELIGIBILITY)
        assert case["data"]["eligibility_recommendation"] == "eligible"
        carol.do(case_id, "eligibility_review", {"eligibility_decision": "approve",
                                                 "eligibility_comment": "Member in good standing"})

        # 3 compliance application with real uploaded documents
        task = alice.task(case_id, "compliance_application")
        assert task["signature_meaning"]
        shas = {kind: alice.upload(case_id, f"{kind}.pdf", _evidence(kind))
                for kind in ("sop", "qms_manual", "staff_qualification")}
        assert shas["sop"] == hashlib.sha256(_evidence("sop")).hexdigest()
        documents = [{"document_type": kind, "title": f"Our {kind}", "standard": "B4.1", "attachment_id": sha}
                     for kind, sha in shas.items()]
        signature = {"name": "Dr Alice Director", "signed": True}
        not_uploaded = [{**documents[0], "attachment_id": "f" * 64}] + documents[1:]
        bad = alice.client.post(f"/api/tasks/{task['id']}/complete",
                                json={"data": {"documents": not_uploaded, "director_signature": signature}})
        assert fields_of(assert_problem(bad, 422)) == {"/documents/0/attachment_id"}
        # lab-b cannot read the evidence
        assert_problem(bob.client.get(f"/api/cases/{case_id}/attachments/{shas['sop']}"), 404)
        alice.do(case_id, "compliance_application", {"documents": documents, "director_signature": signature})

        # 4-5 desk review, scheduling, confirmation
        carol.do(case_id, "desk_review", {"desk_review_outcome": "complete"})
        carol.do(case_id, "schedule_inspection", {"inspection_date": "2027-03-15", "inspection_mode": "on_site"})
        alice.do(case_id, "confirm_inspection_dates", {"dates_confirmed": True})

        # 6 the team: inspectors see the case only once named in it
        assert_problem(ivan.client.get(f"/api/cases/{case_id}"), 404)
        carol.do(case_id, "assign_inspectors", {"team_leader": "ivan", "inspectors": ["iris"]})
        assert ivan.client.get(f"/api/cases/{case_id}").status_code == 200
        ivan_coi = ivan.task(case_id, "declare_conflict_of_interest")
        assert ivan_coi["assignee"] == "ivan"
        assert_problem(iris.client.post(f"/api/tasks/{ivan_coi['id']}/complete",
                                        json={"data": {"conflict_of_interest": False}}), 403)
        ivan.do(case_id, "declare_conflict_of_interest", {"conflict_of_interest": False})
        iris.do(case_id, "declare_conflict_of_interest", {"conflict_of_interest": False})
        alice.do(case_id, "review_inspection_team", {"team_objection": False})

        # 7 the inspection (a called process): checklists by each inspector, the report by the leader
        checklist = {"checklist_items": [{"item": "Cryostorage alarms", "standard": "D7.2", "compliant": True,
                                          "severity": "none"}]}
        ivan.do(case_id, "inspection_checklist", checklist)
        iris.do(case_id, "inspection_checklist", checklist)
        assert [t["element_id"] for t in iris.inbox(case_id)] == []  # the report is the leader's
        ivan.do(case_id, "inspection_report", {"citations": [], "report_summary": "No citations."})

        # 9 the committee grants; 11 the award
        assert [t["element_id"] for t in cody.inbox(case_id)] == ["committee_decision"]
        assert cody.task(case_id, "committee_decision")["signature_meaning"]
        case = cody.do(case_id, "committee_decision", {"decision": "grant", "decision_reason": "All standards met."})
        assert case["status"] == "running" and case["tasks"] == []  # maintenance: timers and messages only
        assert case["data"]["certificate_number"].startswith("ACC-")
        assert case["data"]["surveillance_interval"] == "P12M"

        # everybody's view of the result
        seen = auditor.client.get(f"/api/cases/{case_id}").get_json()
        assert seen["data"]["certificate_number"] == case["data"]["certificate_number"]
        assert alice.client.get(f"/api/cases/{case_id}").get_json()["data"]["certificate_number"]
        assert_problem(bob.client.get(f"/api/cases/{case_id}"), 404)
        history = auditor.client.get(f"/api/cases/{case_id}/history").get_json()
        completed = [(e["element_id"], e["actor"]) for e in history if e["action"] == "task.completed"]
        assert completed[:3] == [("eligibility_application", "alice"), ("eligibility_review", "carol"),
                                 ("compliance_application", "alice")]
        assert completed[-1] == ("committee_decision", "cody")
        assert {("declare_conflict_of_interest", "ivan"), ("declare_conflict_of_interest", "iris"),
                ("inspection_checklist", "ivan"), ("inspection_checklist", "iris"),
                ("inspection_report", "ivan")} <= set(completed)
        assert [e["data"]["sha256"] for e in history if e["action"] == "attachment.uploaded"] == list(shas.values())
        for who in (alice, carol, ivan, iris, cody):
            assert who.inbox(case_id) == []
