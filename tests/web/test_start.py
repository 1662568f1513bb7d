"""A new laboratory starts from the pages: the empty inbox says what to do, the start page offers what the
diagrams let an applicant start (start lanes) and send (`sentBy`), and starting opens the first form."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def test_a_new_laboratory_is_told_what_to_do_and_starts_an_application(web, shipped_site):
    web.sign_in("applicant")
    page = web.page
    started = page.locator("#getting-started")
    expect(started).to_be_visible()
    expect(started.get_by_role("link", name="Accreditation cycle")).to_be_visible()
    expect(started.get_by_role("link", name="Become a Member")).to_be_visible()
    started.get_by_role("link", name="Accreditation cycle").click()
    expect(page).to_have_title("Start · accredit")
    expect(page.locator("#process-accreditation")).to_contain_text("at least 6 months of operation")
    expect(page.locator("#processes li")).to_have_count(2)  # not the inspection, not message-started processes
    page.get_by_role("button", name="Start: Accreditation cycle").click()
    expect(page).to_have_url(re.compile(r"/tasks/"))
    expect(page.locator("#task-title")).to_have_text("Submit eligibility application")
    expect(page.locator("#notice")).to_contain_text("Started \"Accreditation cycle\"")
    web.assert_no_errors()


def test_a_change_notification_is_sent_from_its_form_and_refusals_are_in_words(web, shipped_site):
    web.sign_in("applicant", path="/start")
    page = web.page
    form = page.locator("#message-change_notification")
    expect(form).to_contain_text("within 90 days")
    form.get_by_role("button", name="Send: Change notification").click()
    expect(form.get_by_role("alert")).to_contain_text("Please fill in: What changed, Details")
    form.get_by_label("What changed").select_option(label="Relocation")
    form.get_by_label("Details").fill("Cleanroom moves to building C")
    form.get_by_role("button", name="Send: Change notification").click()
    # no accreditation of lab-a is in force yet: the server says so, in words, next to the form
    expect(form.get_by_role("alert")).to_contain_text("waiting for message 'change_notification'")
    web.assert_no_errors(allow=("404",))
