"""The audit trail of whole accreditation cases of the shipped diagrams: every signature step of the process
is signed with its meaning, reasons are on record, the chains verify, and the PDF record carries it all."""
from __future__ import annotations

import io

import pytest

from engine.reports.audit import Audit, verify_all, verify_chain
from engine.errors import InvalidFormData

from .test_accreditation import to_committee, to_desk_review


def test_every_signature_step_of_the_accreditation_is_signed(drive):
    case = to_desk_review(drive)
    to_committee(drive, case, citations=[{"standard": "B5.1", "finding": "Labels unclear", "severity": "major"}])
    drive.do(case.id, "committee_decision", "cody", decision="grant_pending_corrections",
             decision_reason="One major citation")
    drive.do(case.id, "corrective_action_plan", "alice")
    drive.do(case.id, "verify_corrections", "carol", verification="accepted")
    sigs = Audit(drive.engine.db).signatures(None, case.id)
    assert [(s["element_id"], s["meaning"], s["username"]) for s in sigs] == [
        ("compliance_application", "authorship", "alice"), ("committee_decision", "approval", "cody"),
        ("verify_corrections", "approval", "carol")]
    assert all(s["binding_ok"] for s in sigs)
    decision = next(e for e in drive.actions(case.id, "task.completed") if e["element_id"] == "committee_decision")
    assert decision["data"]["reason"] == "One major citation"
    assert decision["data"]["signature"]["printed_name"] == "Cody Committee"
    assert verify_chain(drive.engine.db, case.id)["ok"] and verify_all(drive.engine.db)["ok"]


def test_appeal_decision_is_signed_and_unsigned_completion_is_refused(drive):
    case = to_desk_review(drive)
    to_committee(drive, case)
    drive.do(case.id, "committee_decision", "cody", decision="deny", decision_reason="Critical deficiencies")
    drive.do(case.id, "consider_appeal", "alice", appeal=True, appeal_grounds="Wrong standard applied")
    drive.do(case.id, "acknowledge_appeal", "carol")
    task = drive.task(case.id, "appeal_decision")
    assert task.signature_meaning == "approval"
    with pytest.raises(InvalidFormData, match="electronic signature"):  # no path around the signature
        drive.engine.complete_task(task.id, drive.people["cleo"], {"appeal_outcome": "dismissed",
                                                                   "appeal_outcome_reason": "No new facts"})
    drive.do(case.id, "appeal_decision", "cleo", appeal_outcome="dismissed", appeal_outcome_reason="No new facts")
    [*_, appeal] = Audit(drive.engine.db).signatures(None, case.id)
    assert (appeal["element_id"], appeal["meaning"], appeal["printed_name"]) == ("appeal_decision", "approval",
                                                                                 "Cleo Committee")


def test_pdf_record_of_an_awarded_case(drive):
    from pypdf import PdfReader

    case = to_desk_review(drive)
    to_committee(drive, case)
    drive.do(case.id, "committee_decision", "cody", decision="grant", decision_reason="All standards met")
    content, filename = Audit(drive.engine.db).pdf(None, case.id)
    business_key = drive.case(case.id).business_key
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert filename == f"{business_key}-record.pdf"
    assert business_key in text and "authorship" in text and "approval" in text and "VERIFIED" in text
    assert "All standards met" in text
    view = {e["element_id"]: e for e in Audit(drive.engine.db).elements(None, case.id)}
    assert view["committee_decision"]["completions"][0]["signature_meaning"] == "approval"
    assert view["award"]["state"] == "completed"
