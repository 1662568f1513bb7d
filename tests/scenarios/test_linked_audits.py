"""Linked audits (issue 12, item 5): a coordinator's for-cause audit joins the laboratory's accreditation
exactly as one its accreditation starts after a change notification — parent case, certificate number, scope,
organisation name, the parent's history — and an organisation with no awarded, running accreditation is
refused with a sentence naming it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.errors import InvalidFormData
from engine.storage.models import Case

from .test_accreditation import awarded, to_desk_review

LINK = ("accreditation_case_id", "certificate_number", "organisation_name", "scope")


def _change_notified_audit(drive, case):
    drive.engine.deliver_message("change_notification", {"change_type": "relocation", "description": "New site"},
                                 drive.people["alice"], organisation_id="lab-a")
    drive.do(case.id, "assess_change_notification", "carol", change_action="for_cause_audit")
    [audit] = drive.linked(case.id, "surveillance_audit")
    return drive.case(audit.id)


def test_a_coordinators_audit_is_linked_like_a_change_notifications(drive):
    case = awarded(drive)
    by_change = _change_notified_audit(drive, case)
    audit = drive.workspace.for_cause_audit(drive.people["carol"], "lab-a", "complaint about labelling")
    assert audit.parent_case_id == case.id == by_change.parent_case_id
    assert audit.organisation_id == "lab-a"
    data = drive.case(audit.id).data
    accreditation = drive.case(case.id).data
    assert data["certificate_number"] == accreditation["certificate_number"] and data["certificate_number"]
    assert data["scope"] == accreditation["scope"] and data["scope"]
    assert data["organisation_name"] == accreditation["organisation_name"] and data["organisation_name"]
    assert data["accreditation_case_id"] == case.id
    assert {k: data[k] for k in LINK} == {k: by_change.data[k] for k in LINK}
    assert (data["audit_type"], data["audit_reason"]) == ("for_cause", "complaint about labelling")
    # the accreditation's history records the linked start, as for the change notification's audit
    started = [e["data"]["case_id"] for e in drive.actions(case.id, "case.linked_started")]
    assert started == [by_change.id, audit.id]
    assert drive.linked(case.id, "surveillance_audit")[-1].id == audit.id
    # naming the accreditation works too; another case of the laboratory is not one
    named = drive.workspace.for_cause_audit(drive.people["carol"], "lab-a", "second complaint", case.id)
    assert named.parent_case_id == case.id
    with pytest.raises(InvalidFormData) as err:
        drive.workspace.for_cause_audit(drive.people["carol"], "lab-a", "wrong case", audit.id)
    assert err.value.errors[0]["field"] == "/accreditation_case_id"


def test_no_accreditation_no_audit(drive):
    carol = drive.people["carol"]
    with pytest.raises(InvalidFormData) as err:
        drive.workspace.for_cause_audit(carol, "lab-b", "complaint")  # no case at all
    assert err.value.message == "lab-b has no accreditation to audit"
    assert err.value.errors[0]["field"] == "/organisation_id"
    to_desk_review(drive)  # an application, not awarded: nothing to audit yet
    with pytest.raises(InvalidFormData) as err:
        drive.workspace.for_cause_audit(carol, "lab-a", "complaint")
    assert err.value.message == "lab-a has no accreditation to audit"
    with drive.engine.db.read() as s:  # nothing was started
        assert s.scalar(sa.select(sa.func.count(Case.id)).where(Case.process_key == "surveillance_audit")) == 0
