"""A coordinator's tools on the pages: assign a task to a colleague who holds its role, release it, claim only
where it means something."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from ..api.conftest import PASSWORD
from ..scenarios.forms_data import form


def test_a_coordinator_assigns_and_releases_a_review(web, shipped_site):
    site = shipped_site
    site.services.identity.create_user("chris", PASSWORD, ["coordinator"], display_name="Chris Colleague")
    case = site.start("accreditation")
    alice = site.client("applicant")
    task = case["tasks"][0]
    r = alice.post(f"/api/tasks/{task['id']}/complete", json={"data": form("eligibility_application")})
    assert r.status_code == 200, r.get_json()
    review = next(t for t in site.case(case["id"])["tasks"] if t["element_id"] == "eligibility_review")

    page = web.page
    web.sign_in("coordinator", path=f"/tasks/{review['id']}")
    expect(page.get_by_role("button", name="Claim")).to_be_visible()
    tools = page.locator("#assign-tools")
    expect(tools).to_be_visible()
    tools.get_by_label("Assign to").select_option(label="Chris Colleague (chris)")
    tools.get_by_role("button", name="Assign").click()
    expect(page.locator("#notice")).to_contain_text("Assigned to chris")
    expect(page.locator("#task-meta")).to_contain_text("chris")
    expect(page.get_by_role("button", name="Claim")).to_be_hidden()  # somebody holds it
    assert site.task(review["id"])["claimed_by"] == "chris"

    page.get_by_role("button", name="Release from chris").click()
    expect(page.locator("#notice")).to_contain_text("released")
    assert site.task(review["id"])["claimed_by"] is None

    page.goto(site.base_url + "/")
    row = page.locator(f'tr[data-task-id="{review["id"]}"]')
    row.get_by_role("button", name=re.compile("^Claim")).click()
    expect(row.get_by_role("button", name=re.compile("^Release"))).to_be_visible()
    row.get_by_role("button", name=re.compile("^Release")).click()
    expect(row.get_by_role("button", name=re.compile("^Claim"))).to_be_visible()
    web.assert_no_errors()


def _award_lab_a(site):
    """An awarded accreditation of lab-a, driven through the engine (tests/scenarios/harness.py)."""
    from ..scenarios.harness import PEOPLE, Driver
    from ..scenarios.test_accreditation import awarded

    identity = site.services.identity
    if identity.actor("bob") is None:
        identity.create_organisation("lab-b", "Lab B")
    for actor in PEOPLE.values():
        if identity.actor(actor.username) is None:
            identity.create_user(actor.username, PASSWORD, actor.roles, organisation_id=actor.organisation_id,
                                 display_name=actor.display_name)
    drive = Driver(site.services.engine, site.services.workspace, None)
    return drive.case(awarded(drive).id)


def test_internal_notes_schedule_and_a_for_cause_audit(web, shipped_site, browser):
    site = shipped_site
    case = site.start("accreditation")
    page = web.page
    web.sign_in("coordinator", path=f"/cases/{case['id']}")
    page.get_by_label("Internal note").check()
    page.get_by_label("Add a comment").fill("Complaint received by phone; keep an eye on this lab.")
    page.get_by_role("button", name="Add comment").click()
    note = page.locator("#comments li.internal")
    expect(note).to_contain_text("internal note: staff only")

    page.goto(site.base_url + "/schedule")
    expect(page.locator("#schedule-count")).to_contain_text("date")
    form = page.locator("#for-cause")
    # lab-a's application is not awarded yet: nothing to audit, said in words next to the field
    form.get_by_label("Organisation (id)").fill("lab-a")
    form.get_by_label("Reason").fill("Complaint about labelling")
    form.get_by_role("button", name="Start the audit").click()
    expect(form.get_by_role("alert")).to_have_text("Lab A has no accreditation to audit")
    expect(form.get_by_label("Organisation (id)")).to_have_attribute("aria-invalid", "true")
    # once awarded, the audit starts linked to the accreditation (its parent case)
    accreditation = _award_lab_a(site)
    form.get_by_role("button", name="Start the audit").click()
    expect(page.locator("#notice")).to_contain_text("For-cause audit started")
    expect(page.locator("#case-meta")).to_contain_text("Surveillance audit, version")
    expect(page.locator("#case-meta")).to_contain_text(accreditation.data["certificate_number"])
    expect(page.locator("#case-meta").get_by_role("link", name="parent case")).to_have_attribute(
        "href", f"/cases/{accreditation.id}")
    web.assert_no_errors(allow=("422",))

    lab = browser.new_context(viewport={"width": 1280, "height": 900})
    lab_page = lab.new_page()
    lab_page.goto(site.base_url + "/")
    lab_page.get_by_label("Username").fill(site.username("applicant"))
    lab_page.get_by_label("Password").fill(PASSWORD)
    lab_page.get_by_role("button", name="Sign in").click()
    expect(lab_page.locator("#who")).to_be_visible()
    lab_page.goto(f"{site.base_url}/cases/{case['id']}")
    expect(lab_page.locator("#comments-empty")).to_be_visible()  # the laboratory never sees the internal note
    expect(lab_page.get_by_label("Internal note")).to_be_hidden()
    lab.close()
