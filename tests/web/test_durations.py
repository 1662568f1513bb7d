"""Durations read in words wherever the pages show them: a quality manager sets the default correction deadline
in processes/deadlines.dmn to a value that is not one of the committee's choices (14/30/60/90 days); the
laboratory's corrective action plan and the coordinator's verification show "45 days", not the ISO 8601 "P45D"
(forms/committee_decision.json marks the field `format: "duration"`; forms.js renders it)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engine.definitions.bundles import read_directories

from ..api.conftest import PASSWORD
from ..conftest import FORMS, PROCESSES
from ..scenarios.harness import PEOPLE, Driver
from ..scenarios.test_accreditation import to_committee, to_desk_review

ENTRY = '<outputEntry id="OutputEntry_deadlines_1_default_correction_deadline">\n          <text>'


@pytest.fixture(scope="module")
def pending_corrections(shipped_site):
    """An accreditation of lab-a granted pending corrections with no deadline chosen, on a library whose
    default correction deadline is 45 days."""
    svc = shipped_site.services
    for key in ("lead", "insp2", "cody"):
        actor = PEOPLE[key]
        svc.identity.create_user(actor.username, PASSWORD, sorted(actor.roles), display_name=actor.display_name)
    files = read_directories(PROCESSES, FORMS)
    assert files["deadlines.dmn"].count(ENTRY + '"P30D"') == 1
    files["deadlines.dmn"] = files["deadlines.dmn"].replace(ENTRY + '"P30D"', ENTRY + '"P45D"')
    svc.engine.deploy(files, deployed_by="quinn", note="45 days to correct")
    drive = Driver(svc.engine, svc.workspace, clock=None)
    case = to_desk_review(drive)
    to_committee(drive, case, citations=[{"standard": "B5.1", "finding": "Labels unclear", "severity": "minor"}])
    drive.do(case.id, "committee_decision", "cody", decision="grant_pending_corrections")
    assert drive.engine.get_case(case.id).data["correction_deadline"] == "P45D"
    return drive, case.id


def _task(drive, case_id, element_id):
    return next(t for t in drive.engine.get_case(case_id).tasks if t.element_id == element_id)


def test_a_duration_outside_the_choices_reads_in_words(web, shipped_site, pending_corrections):
    drive, case_id = pending_corrections
    page = web.page
    web.sign_in("applicant", path=f"/tasks/{_task(drive, case_id, 'corrective_action_plan').id}")
    context = page.locator("#context")
    expect(context).to_contain_text("Correction deadline")
    expect(context).to_contain_text("45 days")
    expect(context).not_to_contain_text("P45D")
    # no error before the person acts, not even json-editor's own for the plan's first (empty) row
    expect(page.get_by_text("Corrective action 1")).to_be_visible()
    expect(page.locator("#form-editor >> text=/missing the required/ >> visible=true")).to_have_count(0)
    # the shared rendering reads any ISO 8601 duration
    words = page.evaluate("['P6M', 'P1Y2M', 'P1D', 'PT36H', 'P2W', 'soon'].map(AccreditForms.duration)")
    assert words == ["6 months", "1 year and 2 months", "1 day", "36 hours", "2 weeks", None]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()  # signed out: the sign-in page has loaded

    drive.do(case_id, "corrective_action_plan", "alice")
    web.sign_in("coordinator", path=f"/tasks/{_task(drive, case_id, 'verify_corrections').id}")
    expect(context).to_contain_text("45 days")
    expect(context).not_to_contain_text("P45D")
    web.assert_no_errors()
