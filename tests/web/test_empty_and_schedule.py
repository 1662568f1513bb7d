"""Empty pages say what to do, and the schedule never links to a task that cannot be opened: found walking
issue 9's list as each role after the phase split. A reminder timer on the inspectors' checklist (a
multi-instance step, inside the called inspection) names no single person's task; the schedule showed it
as a link to a page that answered 'not found'."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ..api.conftest import PASSWORD
from ..scenarios.harness import PEOPLE, Driver
from ..scenarios.test_accreditation import to_desk_review, to_team_review


@pytest.fixture(scope="module")
def in_inspection(shipped_site):
    """An accreditation of lab-a whose team is accepted: the inspectors' checklists wait (with a reminder)."""
    svc = shipped_site.services
    for key in ("lead", "insp2", "cody"):
        actor = PEOPLE[key]
        svc.identity.create_user(actor.username, PASSWORD, sorted(actor.roles), display_name=actor.display_name)
    svc.identity.create_user("newbie", PASSWORD, ["inspector"], display_name="New Inspector")
    drive = Driver(svc.engine, svc.workspace, clock=None)
    case = to_desk_review(drive)
    to_team_review(drive, case)
    drive.do(case.id, "review_inspection_team", "alice")
    return case.id


def _sign_in(web, username, path):
    web.goto(path)
    web.page.get_by_label("Username").fill(username)
    web.page.get_by_label("Password").fill(PASSWORD)
    web.page.get_by_role("button", name="Sign in").click()
    expect(web.page.locator("#who")).to_be_visible()


def test_every_task_link_of_the_schedule_opens_a_task(web, shipped_site, in_inspection):
    page = web.page
    _sign_in(web, "carol", "/schedule")
    rows = page.locator("#schedule-list tbody tr")
    expect(rows.first).to_be_visible()
    # the checklists' 'Late' timer (on the step as a whole) says what it is about and links to the case
    late = page.locator("#schedule-list tbody tr", has_text="Late — Complete inspection checklist")
    expect(late).to_have_count(1)
    expect(late).to_contain_text("(2 inspectors: insp.lead, insp2)")
    link = late.get_by_role("link", name="Late — Complete inspection checklist")
    expect(link).to_have_attribute("href", f"/cases/{in_inspection}")
    for href in page.locator("#schedule-list a[href^='/tasks/']").evaluate_all("as => as.map(a => a.pathname)"):
        r = shipped_site.client("coordinator").get("/api" + href)
        assert r.status_code == 200, (href, r.get_json())
    # the for-cause form is set apart from the table (it touched it)
    table = page.locator("#schedule-list").bounding_box()
    form = page.locator("#for-cause").bounding_box()
    assert form["y"] >= table["y"] + table["height"] + 16, (table, form)
    web.assert_no_errors()


def test_an_empty_inbox_and_schedule_say_what_to_do(web, shipped_site, in_inspection):
    page = web.page
    _sign_in(web, "newbie", "/")
    expect(page.locator("#inbox-empty")).to_contain_text("Nothing is waiting for you now")
    expect(page.locator("#inbox-empty")).to_contain_text("Cases lists the cases you may see")
    page.get_by_label("Overdue only").check()
    expect(page.locator("#inbox-empty")).to_contain_text("No tasks match these filters")
    page.goto(shipped_site.base_url + "/schedule")
    expect(page.locator("#schedule-empty")).to_contain_text("Nothing is scheduled for the cases you may see")
    expect(page.locator("#schedule-list")).to_be_hidden()
    page.get_by_label("Kind").select_option(label="Renewals")
    expect(page.locator("#schedule-empty")).to_contain_text("No dates match these filters")
    web.assert_no_errors()


def test_a_laboratory_with_nothing_waiting_sees_what_to_start_once(web, shipped_site, in_inspection):
    """The laboratory's own case waits on the inspectors: its empty inbox offers what it may start, and the
    plain 'nothing is waiting' line is not shown twice beside that card."""
    page = web.page
    _sign_in(web, "alice", "/")
    expect(page.locator("#getting-started")).to_be_visible()
    expect(page.locator("#inbox-empty")).to_be_hidden()
    web.assert_no_errors()


def test_the_header_names_the_role_in_words(web, shipped_site):
    _sign_in(web, "quinn", "/")
    expect(web.page.locator("#who-name")).to_have_text("Quinn (quality manager)")  # not "quality_manager"
    web.assert_no_errors()
