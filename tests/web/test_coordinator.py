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
