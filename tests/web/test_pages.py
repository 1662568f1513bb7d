"""The staff web pages in a real browser: sign in, inbox, task form (422 and success, e-signature), case page
with the diagram and history. Screenshots go to /tmp/web-*.png for a human look."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from ..api.conftest import PASSWORD

#: the browser logs failed requests the page expected (and handled) as console errors
NO_SESSION = "status of 401"
INVALID = "status of 422"


def test_sign_in_with_a_wrong_password_shows_the_servers_detail(web):
    web.sign_in("applicant", password="not-the-password")
    expect(web.page.locator("#sign-in-error")).to_have_text("wrong username or password")
    expect(web.page.locator("#inbox")).to_be_hidden()
    web.page.screenshot(path="/tmp/web-sign-in.png")
    web.assert_no_errors(allow=(NO_SESSION,))


def test_inbox_lists_the_applicants_task_and_claims_it(web, site):
    case = site.start("two_step", business_key="WEB-INBOX-1")
    site.start("two_step", business_key="WEB-INBOX-2")
    web.sign_in("applicant")
    page = web.page
    expect(page.locator("#inbox")).to_be_visible()
    expect(page.locator("#who-name")).to_contain_text("Alice")
    task_id = case["tasks"][0]["id"]
    row = page.locator(f'tr[data-task-id="{task_id}"]')
    expect(row).to_contain_text("Answer the question")
    expect(row).to_contain_text("WEB-INBOX-1")
    expect(row).to_contain_text("applicant")
    row.get_by_role("button", name=re.compile("^Claim")).click()
    expect(page.locator("#notice")).to_contain_text("You claimed")
    expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_contain_text("alice (you)")
    assert site.task(task_id)["claimed_by"] == "alice"

    page.get_by_label("Show").select_option("unassigned")
    expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_have_count(0)
    expect(page.locator("#tasks tbody tr").first).to_contain_text("WEB-INBOX")
    page.get_by_label("Show").select_option("mine")
    expect(page.locator(f'tr[data-task-id="{task_id}"]')).to_have_count(1)
    page.get_by_label("Show").select_option("all")
    page.screenshot(path="/tmp/web-inbox.png", full_page=True)
    web.assert_no_errors(allow=(NO_SESSION,))


def test_task_form_is_rendered_from_its_schema_and_the_servers_422_is_shown(web, site):
    case = site.start("two_step", business_key="WEB-FORM-1")
    task_id = case["tasks"][0]["id"]
    web.sign_in("applicant", path=f"/tasks/{task_id}")  # signs in, then comes back to the task
    page = web.page
    expect(page.locator("#task-title")).to_have_text("Answer the question")
    answer = page.locator('select[name="root[answer]"]')
    note = page.locator('input[name="root[note]"]')
    expect(answer).to_be_visible()
    expect(page.get_by_label("answer", exact=True)).to_be_visible()  # labels belong to their inputs
    expect(page.get_by_label("note", exact=True)).to_be_visible()
    expect(note).to_be_visible()
    assert answer.locator("option").all_inner_texts()[1:] == ["Yes", "No"]  # human labels
    expect(answer).to_have_value("_placeholder_")  # nothing chosen for the user
    expect(page.locator("#signature")).to_be_hidden()

    note.fill("a note")
    page.get_by_role("button", name="Submit").click()  # no answer chosen
    errors = page.locator("#form-errors")
    expect(errors).to_be_visible()
    expect(errors).to_contain_text("Some answers need attention")
    expect(errors).not_to_contain_text(".json")
    expect(errors.locator('li[data-field="/answer"]')).to_contain_text("is required")
    expect(page.locator('.field-error[data-field="/answer"]')).to_be_visible()
    expect(answer).to_have_attribute("aria-invalid", "true")
    page.screenshot(path="/tmp/web-task.png", full_page=True)
    assert site.task(task_id)["status"] == "ready"  # nothing was completed
    assert [t["element_id"] for t in site.case(case["id"])["tasks"]] == ["ask"]

    answer.select_option("yes")
    expect(page.locator('.field-error[data-field="/answer"]')).to_have_count(0)  # cleared once fixed
    page.get_by_role("button", name="Submit").click()
    expect(page).to_have_url(site.base_url + "/")
    expect(page.locator("#notice")).to_contain_text('Completed "Answer the question" (case WEB-FORM-1)')
    done = site.task(task_id)
    assert done["status"] == "completed" and done["completed_by"] == "alice"
    assert [t["element_id"] for t in site.case(case["id"])["tasks"]] == ["review"]  # the case moved on
    web.assert_no_errors(allow=(NO_SESSION, INVALID))


def test_a_conditional_requirement_is_reported_next_to_its_field(web, site):
    """membership_application.json requires the institution only for institutional members (if/then): the
    editor cannot know, the server says so, and the message sits next to the field."""
    case = site.start("membership", business_key="WEB-FORM-2")
    task_id = case["tasks"][0]["id"]
    web.sign_in("applicant", path=f"/tasks/{task_id}")
    page = web.page
    expect(page.locator("#task-title")).to_have_text("Submit membership application")
    page.locator('select[name="root[member_category]"]').select_option("institutional")
    page.locator('[name="root[applicant_name]"]').fill("Alice Applicant")
    page.locator('[name="root[credentials]"]').fill("MD; 10 years in cell therapy")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator('.field-error[data-field="/institution"]')).to_contain_text("is required")
    page.screenshot(path="/tmp/web-task-membership.png", full_page=True)
    assert site.task(task_id)["status"] == "ready"
    page.locator('[name="root[institution]"]').fill("Lab A University Hospital")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#notice")).to_contain_text("Completed")
    assert site.task(task_id)["status"] == "completed"
    web.assert_no_errors(allow=(NO_SESSION, INVALID))


def test_a_signature_task_asks_for_the_password_labelled_with_its_meaning(web, site):
    case = site.start("signed", business_key="WEB-SIGN-1")
    task_id = case["tasks"][0]["id"]
    web.sign_in("applicant", path=f"/tasks/{task_id}")
    page = web.page
    password = page.get_by_label("Sign (approval)")
    expect(password).to_be_visible()
    page.locator('select[name="root[answer]"]').select_option("no")
    password.fill("wrong password")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#form-errors")).to_be_visible()
    page.screenshot(path="/tmp/web-task-signature.png", full_page=True)
    assert site.task(task_id)["status"] == "ready"
    password.fill(PASSWORD)
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#notice")).to_contain_text('Completed "Approve the answer"')
    assert site.case(case["id"])["status"] == "completed"
    web.assert_no_errors(allow=(NO_SESSION, "status of 401"))


def test_the_case_page_shows_the_diagram_with_what_is_done_and_the_history(web, site):
    case = site.start("membership", business_key="WEB-MEMBER-1")
    task = site.task(case["tasks"][0]["id"], who="applicant")
    r = site.client("applicant").post(f"/api/tasks/{task['id']}/complete", json={"data": {
        "member_category": "individual", "applicant_name": "Alice", "credentials": "MD, 10 years of cell therapy"}})
    assert r.status_code == 200, r.get_json()

    web.sign_in("coordinator", path=f"/cases/{case['id']}")
    page = web.page
    expect(page.locator("#case-title")).to_have_text("Case WEB-MEMBER-1")
    expect(page.locator("#case-meta")).to_contain_text("running")
    svg = page.locator("#diagram svg").first
    expect(svg).to_be_visible()
    done = page.locator('#diagram g.djs-element[data-element-id="membership_application"]')
    expect(done).to_have_class(re.compile(r"\baccredit-completed\b"))
    expect(page.locator('#diagram g.djs-element[data-element-id="membership_review"]')).to_have_class(
        re.compile(r"\baccredit-active\b"))
    expect(page.locator("#diagram .djs-shape")).not_to_have_count(0)
    expect(page.locator("#diagram .bjs-powered-by")).to_be_visible()  # the bpmn.io watermark stays

    history = page.locator("#history tbody tr")
    expect(history.first).to_contain_text("case.started")
    completed = page.locator('#history tbody tr[data-action="task.completed"]')
    expect(completed).to_have_count(1)
    expect(completed).to_contain_text("alice")
    expect(completed).to_contain_text("applicant")
    expect(completed).to_contain_text("Submit membership application")
    expect(completed).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))
    expect(page.locator("#open-tasks")).to_contain_text("Review membership application")
    page.screenshot(path="/tmp/web-case.png", full_page=True)
    web.assert_no_errors(allow=(NO_SESSION,))


def test_a_case_without_a_drawn_diagram_says_so(web, site):
    case = site.start("two_step", business_key="WEB-NODI-1")
    web.sign_in("coordinator", path=f"/cases/{case['id']}")
    expect(web.page.locator("#diagram-note")).to_contain_text("no drawn diagram")
    expect(web.page.locator('#history tbody tr[data-action="case.started"]')).to_have_count(1)
    web.assert_no_errors(allow=(NO_SESSION,))


def test_javascript_errors_are_shown_not_swallowed(web, site):
    web.sign_in("applicant")
    expect(web.page.locator("#inbox")).to_be_visible()
    web.page.evaluate("setTimeout(() => { throw new Error('boom from a test'); })")
    expect(web.page.locator("#errors")).to_contain_text("boom from a test")


def test_pages_are_served_with_a_content_security_policy(site):
    r = site.app.test_client().get("/")
    assert r.status_code == 200 and "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert site.app.test_client().get("/assets/vendor/bpmn-js/LICENSE").status_code == 200
