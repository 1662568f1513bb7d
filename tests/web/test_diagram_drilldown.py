"""The case page's diagram drills down into called processes: a surveillance audit waiting in its inspection
shows the call activity as waiting; opening it (click, keyboard, or the link in the text list of steps) shows
the inspection's own diagram with the waiting checklist marked, and the breadcrumb leads back. Keyboard
operable; axe-core finds no serious or critical violation on the drilled-down page."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from engine.actors import Actor

from ..api.conftest import PASSWORD
from ..scenarios.forms_data import form
from .test_accessibility import AXE, _serious


@pytest.fixture(scope="module")
def audit_in_inspection(shipped_site):
    """A for-cause surveillance audit of lab-a whose plan is done: it waits in the called 'inspection'."""
    svc = shipped_site.services
    svc.identity.create_user("insp.lead", PASSWORD, ["inspector"], display_name="Ines Lead")
    carol = Actor("carol", {"coordinator"}, None, "Carol")
    audit = svc.engine.start_case("surveillance_audit", carol, "lab-a", {"audit_type": "for_cause",
                                                                         "reason": "complaint received"})
    [plan] = audit.tasks
    svc.engine.complete_task(plan.id, carol, form("plan_surveillance_audit"))
    return audit.id


def _marked(page) -> list[str]:
    return (page.locator("#diagram").get_attribute("data-marked") or "").split()


def test_drill_into_the_inspection_and_back(web, shipped_site, audit_in_inspection):
    page = web.page
    web.sign_in("coordinator", path=f"/cases/{audit_in_inspection}")
    diagram = page.locator("#diagram")
    call = page.locator('#diagram g.djs-element[data-element-id="inspection"]')
    expect(call).to_have_attribute("role", "button")
    expect(call).to_have_class(re.compile(r"accredit-active"))
    expect(page.locator("#steps")).to_contain_text("Inspection: waiting now")
    assert "inspection_checklist" not in _marked(page)

    call.click()
    expect(diagram).to_have_attribute("data-process", "inspection")
    checklist = page.locator('#diagram g.djs-element[data-element-id="inspection_checklist"]')
    expect(checklist).to_have_class(re.compile(r"accredit-active"))
    expect(page.locator('#diagram g.djs-element[data-element-id="prepare_inspection"]')).to_have_class(
        re.compile(r"accredit-completed"))
    expect(page.locator("#steps")).to_contain_text("Complete inspection checklist: waiting now")
    crumbs = page.get_by_role("navigation", name="Diagram: called processes opened")
    expect(crumbs).to_be_visible()
    expect(crumbs.locator('[aria-current="location"]')).to_have_text("Inspection")
    expect(page.locator("#diagram-status")).to_contain_text("Showing the diagram of Inspection")
    page.locator("#diagram-title").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/web-case-drilldown.png")

    crumbs.get_by_role("button", name="Surveillance audit").click()
    expect(diagram).to_have_attribute("data-process", "surveillance_audit")
    expect(crumbs).to_be_hidden()
    expect(page.locator('#diagram g.djs-element[data-element-id="plan_surveillance_audit"]')).to_have_class(
        re.compile(r"accredit-completed"))
    web.assert_no_errors()


def test_the_drill_down_works_from_the_keyboard_and_the_text_list(web, shipped_site, audit_in_inspection):
    page = web.page
    web.sign_in("coordinator", path=f"/cases/{audit_in_inspection}")
    call = page.locator('#diagram g.djs-element[data-element-id="inspection"]')
    expect(call).to_have_attribute("tabindex", "0")
    # Tab from the last zoom button reaches the call activity in the diagram; Enter opens it
    page.locator("#zoom-reset").focus()
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('data-element-id')") == "inspection":
            break
    else:
        raise AssertionError("the call activity is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#diagram")).to_have_attribute("data-process", "inspection")
    # focus moves to the diagram's heading, so the next Tab continues from there
    assert page.evaluate("document.activeElement.id") == "diagram-title"
    page.get_by_role("button", name="Surveillance audit").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#diagram")).to_have_attribute("data-process", "surveillance_audit")

    # the screen-reader list of steps links into the called process too
    page.get_by_role("link", name="open the diagram of Inspection").click()
    expect(page.locator("#diagram")).to_have_attribute("data-process", "inspection")
    expect(page.locator("#steps")).to_contain_text("Complete inspection checklist: waiting now")
    web.assert_no_errors()


def test_the_laboratory_drills_into_its_own_audit(web, shipped_site, audit_in_inspection):
    page = web.page
    web.sign_in("applicant", path=f"/cases/{audit_in_inspection}")
    page.get_by_role("link", name="open the diagram of Inspection").click()
    expect(page.locator('#diagram g.djs-element[data-element-id="inspection_checklist"]')).to_have_class(
        re.compile(r"accredit-active"))
    web.assert_no_errors()


def test_the_drilled_down_diagram_is_accessible(browser, shipped_site, audit_in_inspection):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm install --prefix tests/browser)")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # to inject axe
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(shipped_site.base_url + "/")
        page.get_by_label("Username").fill("carol")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#who")).to_be_visible()
        page.goto(f"{shipped_site.base_url}/cases/{audit_in_inspection}")
        expect(page.locator('#diagram g.djs-element[data-element-id="inspection"]')).to_have_attribute("role", "button")
        assert _serious(page) == []
        page.locator('#diagram g.djs-element[data-element-id="inspection"]').click()
        expect(page.locator("#diagram")).to_have_attribute("data-process", "inspection")
        page.wait_for_load_state("networkidle")
        assert _serious(page) == []
    finally:
        context.close()
