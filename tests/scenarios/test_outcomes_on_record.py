"""Outcomes on the record: what the engine computes (eligibility recommendation, certificate number, award
and expiry dates, surveillance interval) is in the history with its values, on the record's case summary,
and in the PDF record next to the case's real status."""
from __future__ import annotations

import io

from .test_accreditation import awarded


def _pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


def _computed(drive, case_id) -> dict:
    values = {}
    for e in drive.actions(case_id, "element.completed"):
        values.update((e["data"] or {}).get("values") or {})
    return values


#: what the engine computes in the phase processes (eligibility, decision, maintenance)
OUTCOMES = ("eligibility_recommendation", "certificate_number", "award_date", "accreditation_expires_on",
            "surveillance_interval")


def test_the_case_view_carries_each_outcome_from_the_phase_processes(drive):
    """The case as the API shows it (GET /api/cases/{id} serialises this view): the values computed inside
    the called phase processes are case-level data, for staff and for the laboratory."""
    case = awarded(drive)
    view = drive.engine.get_case(case.id)
    assert view.data["award_date"] == drive.now().date().isoformat()
    assert view.data["surveillance_interval"] == "P12M"
    assert view.data["certificate_number"].startswith("ACC-")
    assert view.data["eligibility_recommendation"] and view.data["accreditation_expires_on"] > view.data["award_date"]
    for who in ("carol", "alice"):  # Workspace.case_for is the one engine call of GET /api/cases/{id}
        seen = drive.workspace.case_for(drive.people[who], case.id)
        for name in ("certificate_number", "award_date", "accreditation_expires_on"):
            assert seen.data[name] == view.data[name], (who, name)
    staff = drive.workspace.case_for(drive.people["carol"], case.id).data
    assert {name: staff[name] for name in OUTCOMES} == {name: view.data[name] for name in OUTCOMES}


def test_award_values_are_in_the_history(drive):
    case = awarded(drive)
    by_step = {e["element_id"]: e["data"]["values"] for e in drive.actions(case.id, "element.completed")
               if (e["data"] or {}).get("values")}
    assert by_step["eligibility_check"]["eligibility_recommendation"] == case.data["eligibility_recommendation"]
    award = by_step["award"]
    assert award["certificate_number"] == case.data["certificate_number"].upper()
    assert award["award_date"] == drive.now().date().isoformat()
    assert award["accreditation_expires_on"] == case.data["accreditation_expires_on"]
    assert by_step["surveillance_interval"]["surveillance_interval"] == "P12M"


def test_the_pdf_record_shows_the_outcomes_and_the_real_status(drive):
    from engine.reports.audit import Audit

    case = awarded(drive)
    audit = Audit(drive.engine.db, engine=drive.engine)
    record = audit.record(drive.people["carol"], case.id)
    outcomes = record["case"]["outcomes"]
    assert outcomes["certificate_number"]["value"] == case.data["certificate_number"]
    assert outcomes["certificate_number"]["element_id"] == "award"
    # each value computed inside a called phase process reaches the case summary with its value
    for name in OUTCOMES:
        assert outcomes[name]["value"] == case.data[name], name
    assert {w["name"] for w in record["case"]["waiting_for"]} >= {"Accreditation expires", "Renewal opens"}

    content, _ = audit.pdf(drive.people["carol"], case.id)
    text = _pdf_text(content)
    for value in (case.data["certificate_number"], case.data["award_date"], case.data["accreditation_expires_on"],
                  "P12M", case.data["eligibility_recommendation"], "Outcomes computed by the engine",
                  "Accreditation expires"):
        assert value in text, value
    assert "running" in text

    # the laboratory's copy has the shared outcomes, not the staff-only ones
    lab = audit.record(drive.people["alice"], case.id)["case"]["outcomes"]
    assert lab["certificate_number"]["value"] == case.data["certificate_number"]
    assert "renewal_opens" not in lab and "accreditation_expires" not in lab
