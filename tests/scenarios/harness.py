"""Drive whole cases of the shipped process library through the engine API, with the clock moved."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import time_machine

from engine.actors import Actor
from engine.cases.services import CaseView, Engine, TaskView

from .forms_data import SHA, form

PDF = b"%PDF-1.4\n% accredit scenario evidence\n%%EOF\n"

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)

PEOPLE = {
    "alice": Actor("alice", {"applicant"}, "lab-a", "Dr Alice Director"),
    "bob": Actor("bob", {"applicant"}, "lab-b", "Bob of Lab B"),
    "carol": Actor("carol", {"coordinator"}, None, "Carol Coordinator"),
    "lead": Actor("insp.lead", {"inspector"}, None, "Ines Lead"),
    "insp2": Actor("insp2", {"inspector"}, None, "Igor Inspector"),
    "cody": Actor("cody", {"committee"}, None, "Cody Committee"),
    "cleo": Actor("cleo", {"committee"}, None, "Cleo Committee"),
}


class Driver:
    """A scenario: the engine, the people, and a clock that only moves when told to."""

    def __init__(self, engine: Engine, workspace, clock):
        self.engine, self.workspace, self.clock, self.people = engine, workspace, clock, PEOPLE
        self._evidence: dict[str, str] = {}

    def start(self, process: str, who: str = "alice", data: dict | None = None, org: str = "lab-a") -> CaseView:
        return self.engine.start_case(process, self.people[who], org, data)

    def ready(self, case_id: str) -> list[TaskView]:
        return self.engine.ready_tasks(case_id)

    def ready_ids(self, case_id: str) -> list[str]:
        return sorted(t.element_id for t in self.ready(case_id))

    def task(self, case_id: str, element_id: str, who: str | None = None) -> TaskView:
        matches = [t for t in self.ready(case_id) if t.element_id == element_id]
        if who is not None:
            username = self.people[who].username
            mine = [t for t in matches if t.assignee in (None, username)]
            matches = mine or matches
        assert matches, f"{element_id} is not ready in {case_id}; ready: {self.ready_ids(case_id)}"
        return matches[0]

    def do(self, case_id: str, element_id: str, who: str, data: dict | None = None, **overrides) -> CaseView:
        """Complete the ready task ``element_id`` as ``who``; data defaults to the form's minimal example.

        Signature steps (``signature_meaning``) are signed: the engine trusts its caller to have re-verified
        the signer's password (the HTTP layer does); these scenarios stand in for that caller."""
        task = self.task(case_id, element_id, who)
        if data is None:
            data = form(task.form.removesuffix(".json"), **overrides) if task.form else {}
        data = self._with_evidence(case_id, data)
        signature = {"method": "password"} if task.signature_meaning else None
        return self.engine.complete_task(task.id, self.people[who], data, signature=signature)

    def _with_evidence(self, case_id: str, data):
        """Form examples carry a placeholder attachment id: upload a real file to the case and use its id."""
        import json

        text = json.dumps(data)
        if SHA not in text:
            return data
        if case_id not in self._evidence:
            case = self.engine.get_case(case_id, with_data=False)
            uploader = next(p for p in self.people.values() if p.organisation_id == case.organisation_id)
            self._evidence[case_id] = self.workspace.upload(case_id, uploader, "evidence.pdf", "application/pdf",
                                                            PDF).sha256
        return json.loads(text.replace(SHA, self._evidence[case_id]))

    def later(self, **delta) -> list[str]:
        """Move the clock forward and fire what is due, as the scheduler would."""
        self.clock.shift(timedelta(**delta))
        return self.engine.fire_due_timers()

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def case(self, case_id: str) -> CaseView:
        return self.engine.get_case(case_id)

    def linked(self, case_id: str, process: str | None = None) -> list[CaseView]:
        return [c for c in self.engine.linked_cases(case_id) if process is None or c.process_key == process]

    def actions(self, case_id: str, action: str) -> list[dict]:
        return [e for e in self.engine.history(case_id) if e["action"] == action]


def create_people(identity, password: str = "scenario-password", names: dict | None = None) -> None:
    """The scenario's organisations (named by their ids unless ``names`` says otherwise) and one user per person
    of ``PEOPLE`` (forms check that assigned inspectors and panel members are real users)."""
    for org in ("lab-a", "lab-b"):
        identity.create_organisation(org, (names or {}).get(org, org))
    for actor in PEOPLE.values():
        identity.create_user(actor.username, password, actor.roles, display_name=actor.display_name,
                             organisation_id=actor.organisation_id)


def traveller(start: datetime = T0):
    return time_machine.travel(start, tick=False)
