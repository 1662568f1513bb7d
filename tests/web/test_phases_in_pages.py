"""After the split of the accreditation into phase processes, as people see it in the pages: the case summary
names the task waiting inside a phase, the top-level diagram marks the running phase, the text list of
steps counts each phase's start in its own diagram (not every 'start' of the library in every diagram), the
committee's task still shows the inspection's report and checklists, and the start page of a role that sends
no notification passes axe-core at desktop and phone width."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ..api.conftest import PASSWORD
from ..scenarios.harness import PEOPLE, Driver
from ..scenarios.test_accreditation import awarded, to_committee, to_desk_review
from .test_accessibility import AXE, _serious


@pytest.fixture(scope="module")
def drive(shipped_site):
    """Cases of lab-a driven through the engine API (the scenarios' driver), its people as users."""
    svc = shipped_site.services
    for key in ("lead", "insp2", "cody", "cleo"):
        actor = PEOPLE[key]
        svc.identity.create_user(actor.username, PASSWORD, sorted(actor.roles), display_name=actor.display_name)
    return Driver(svc.engine, svc.workspace, clock=None)


@pytest.fixture(scope="module")
def at_committee(drive):
    """An accreditation of lab-a driven (engine API) through eligibility, desk review and inspection: the
    committee decision waits inside the 'Decision and appeal' phase."""
    case = to_desk_review(drive)
    to_committee(drive, case, citations=[{"standard": "B5.1", "finding": "Labels fade in the freezer",
                                          "severity": "minor"}])
    return case.id


def _steps(page) -> list[str]:
    return [t.strip() for t in page.locator("#steps li").all_inner_texts()]


def test_the_case_page_names_the_waiting_task_and_the_running_phase(web, shipped_site, at_committee):
    page = web.page
    web.sign_in("coordinator", path=f"/cases/{at_committee}")
    expect(page.locator("#case-meta")).to_contain_text("Current step")
    expect(page.locator("#case-meta")).to_contain_text("Committee decision")
    expect(page.locator("#case-meta")).to_contain_text("Accreditation cycle, version 1")  # not the key
    phase = page.locator('#diagram g.djs-element[data-element-id="decision_phase"]')
    expect(phase).to_have_class(re.compile(r"accredit-active"))
    expect(page.locator('#diagram g.djs-element[data-element-id="inspection_phase"]')).to_have_class(
        re.compile(r"accredit-completed"))
    expect(page.locator("#steps")).to_contain_text("Decision and appeal: waiting now")
    # the case started once: each phase's own start event ('start' in every phase file) is not counted here
    [started] = [s for s in _steps(page) if s.startswith("Accreditation requested")]
    assert started.startswith("Accreditation requested: completed, last"), started

    phase.click()
    expect(page.locator("#diagram")).to_have_attribute("data-process", "accreditation_decision")
    expect(page.locator("#steps")).to_contain_text("Committee decision: waiting now")
    assert not [s for s in _steps(page) if s.startswith("Accreditation requested")], _steps(page)

    page.get_by_role("button", name=re.compile("Accreditation")).click()  # the breadcrumb back to the top
    page.get_by_role("link", name="open the diagram of Inspection stage").click()
    page.get_by_role("link", name="open the diagram of Inspection").click()
    expect(page.locator("#diagram")).to_have_attribute("data-process", "inspection")
    expect(page.locator("#steps")).to_contain_text("Write inspection report: completed")
    assert not [s for s in _steps(page) if s.startswith("Accreditation requested")], _steps(page)
    web.assert_no_errors()


def test_an_awarded_case_says_what_it_waits_for(web, shipped_site, drive):
    """Awarded, the case waits in its maintenance phase on timers and a message, no person's task open: the
    summary's current step names them inside the phase, and the phase's diagram marks them waiting."""
    case_id = awarded(drive).id
    page = web.page
    web.sign_in("applicant", path=f"/cases/{case_id}")
    summary = page.locator("#case-meta")
    expect(summary).to_contain_text("Certificate number")
    expect(summary).to_contain_text("Awarded on")
    expect(summary).to_contain_text("Expires on")
    expect(summary).to_contain_text("Current step")
    expect(summary).to_contain_text("Maintain accreditation, waiting for: ")
    expect(summary).to_contain_text("Surveillance interval elapsed")
    page.get_by_role("link", name="open the diagram of Maintain accreditation").click()
    expect(page.locator("#diagram")).to_have_attribute("data-process", "accreditation_maintenance")
    expect(page.locator('#diagram g.djs-element[data-element-id="surveillance_timer"]')).to_have_class(
        re.compile(r"accredit-active"))
    expect(page.locator("#steps")).to_contain_text("Accreditation expires: waiting now")
    web.assert_no_errors()


def test_the_committee_decides_seeing_the_inspection(web, shipped_site, at_committee):
    page = web.page
    task = next(t for t in shipped_site.case(at_committee)["tasks"] if t["element_id"] == "committee_decision")
    shipped_site.services.identity.create_user("cody.web", PASSWORD, ["committee"], display_name="Cody Web")
    web.goto(f"/tasks/{task['id']}")
    page.get_by_label("Username").fill("cody.web")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#task-title")).to_have_text("Committee decision")
    # the task's process by the name its diagram gives it (the phase), and the case by its business key
    meta = page.locator("#task-meta")
    expect(meta).to_contain_text("Decision and appeal")
    expect(meta).not_to_contain_text("accreditation_decision")
    expect(meta.get_by_role("link", name=shipped_site.case(at_committee)["business_key"])).to_be_visible()
    page.locator("#claim").click()
    expect(meta).to_contain_text("cody.web")  # claimed: the names stay
    expect(meta).to_contain_text("Decision and appeal")
    page.locator("#release").click()
    expect(meta).not_to_contain_text("cody.web")
    context = page.locator("#context")
    expect(context).to_contain_text("Inspection report")
    expect(context).to_contain_text("Labels fade in the freezer")
    expect(context).to_contain_text("Inspection checklist")
    expect(context).to_contain_text("insp2")  # both inspectors' checklists
    web.assert_no_errors()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_start_page_of_a_role_that_sends_no_notification_is_accessible(browser, shipped_site, width):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm install --prefix tests/browser)")
    shipped_site.services.identity.create_user(f"ines{width}", PASSWORD, ["inspector"], display_name="Ines")
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)  # to inject axe
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(shipped_site.base_url + "/start")
        page.get_by_label("Username").fill(f"ines{width}")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#messages-empty")).to_be_visible()
        assert _serious(page) == []
    finally:
        context.close()
