"""Forms people trust and the decision context, in the browser: what is typed is stored as typed (HTML-looking
text too), nothing is answered for the person (no pre-filled number, no pre-ticked yes/no), errors are words
next to their field and go away when fixed, and the reviewer sees, read-only, the application they decide on."""
from __future__ import annotations

import re

from playwright.sync_api import expect



def test_the_application_is_stored_as_typed_and_the_reviewer_sees_it_read_only(web, shipped_site):
    page = web.page
    web.sign_in("applicant", path="/start")
    page.get_by_role("button", name="Start: Accreditation cycle").click()
    expect(page.locator("#task-title")).to_have_text("Submit eligibility application")
    expect(page.locator("#form-errors")).to_be_hidden()  # no error before the person acts
    expect(page.locator(".field-error")).to_have_count(0)
    months = page.get_by_label("Months in operation")
    expect(months).to_have_value("")  # a number nobody typed is not 0
    member = page.get_by_label("Membership active")
    expect(member).to_have_value("_placeholder_")  # a yes/no decision starts unanswered, not "no"
    page.get_by_label("Organisation name").fill("<b>North</b> & Sons <script>x</script>")
    page.get_by_role("button", name="Submit").click()
    errors = page.locator("#form-errors")
    expect(errors).to_contain_text("Months in operation: is required")
    expect(errors).to_contain_text("Membership active: is required")
    expect(errors).not_to_contain_text("/months")  # words, not JSON pointers
    expect(page.locator('.field-error[data-field="/months_in_operation"]')).to_have_count(1)
    months.fill("24")
    expect(page.locator('.field-error[data-field="/months_in_operation"]')).to_have_count(0)  # cleared when fixed
    page.get_by_label("Collection").check()
    page.get_by_label("Site name").fill("Main")
    page.get_by_label("Address").fill("1 Lab Road")
    member.select_option(label="Yes")
    page.get_by_label("Membership number").fill("M-1")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#notice")).to_contain_text("Completed")
    expect(page.locator("#inbox")).to_be_visible()

    site = shipped_site
    case_id = site.services.workspace.list_cases(
        site.services.identity.actor(site.username("applicant"))).items[0].id
    data = site.case(case_id)["data"]
    assert data["organisation_name"] == "<b>North</b> & Sons <script>x</script>"  # exactly as typed
    assert data["membership_active"] is True and data["months_in_operation"] == 24
    review = next(t for t in site.case(case_id)["tasks"] if t["element_id"] == "eligibility_review")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username")).to_be_visible()
    web.sign_in("coordinator", path=f"/tasks/{review['id']}")
    context = page.locator("#context")
    expect(context).to_contain_text("What you decide on")
    expect(context).to_contain_text("<b>North</b> & Sons <script>x</script>")  # shown as text
    expect(context.locator("b")).to_have_count(0)
    expect(context).to_contain_text("Collection")  # a choice shows its label
    expect(context.get_by_text(re.compile("^Yes$"))).to_have_count(1)
    web.assert_no_errors(allow=("422",))
