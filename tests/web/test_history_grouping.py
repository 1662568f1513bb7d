"""The case page's history reads as people's actions: the engine's steps that followed each action are folded
under it (one click opens them), and a filter narrows the actions (issue 9, item 6)."""
from __future__ import annotations

from playwright.sync_api import expect


def test_engine_steps_are_folded_under_the_action_that_caused_them(web, site):
    case = site.start("membership", business_key="WEB-FOLD-1")
    task = site.task(case["tasks"][0]["id"], who="applicant")
    r = site.client("applicant").post(f"/api/tasks/{task['id']}/complete", json={"data": {
        "member_category": "individual", "applicant_name": "Alice", "credentials": "MD"}})
    assert r.status_code == 200, r.get_json()

    web.sign_in("coordinator", path=f"/cases/{case['id']}")
    page = web.page
    actions = page.locator('#history tbody tr[data-kind="action"]')
    steps = page.locator('#history tbody tr[data-kind="step"]')
    expect(actions.first).to_contain_text("case.started")
    expect(page.locator('#history tbody tr[data-action="task.completed"]')).to_be_visible()
    assert steps.count() > 0
    for i in range(steps.count()):
        expect(steps.nth(i)).to_be_hidden()  # folded away by default
    expect(page.locator("#history-count")).to_contain_text("action")

    completed = page.locator('#history tbody tr[data-action="task.completed"]')
    fold = completed.locator("button.fold")
    expect(fold).to_have_attribute("aria-expanded", "false")
    fold.click()
    expect(fold).to_have_attribute("aria-expanded", "true")
    group = completed.get_attribute("data-group")
    opened = page.locator(f'#history tbody tr[data-kind="step"][data-group="{group}"]')
    expect(opened.first).to_be_visible()  # e.g. the review that became ready
    fold.click()
    expect(opened.first).to_be_hidden()

    page.fill("#history-filter-text", "task.completed")
    expect(completed).to_be_visible()
    expect(page.locator('#history tbody tr[data-action="case.started"]')).to_be_hidden()
    page.fill("#history-filter-text", "")
    expect(page.locator('#history tbody tr[data-action="case.started"]')).to_be_visible()
