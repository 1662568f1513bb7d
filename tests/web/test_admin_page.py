"""The administration page in headless Chromium: an administrator deactivates a user, who then cannot sign in
and whose session and API token are refused; tokens are listed and revoked; users and organisations are
created. Screenshots at 1280 and 390 px go to /tmp/admin-*.png; axe-core finds no serious or critical issue."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..api.conftest import PASSWORD

NO_SESSION = "status of 401"
AXE = Path(__file__).resolve().parent.parent / "browser" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def people(site):
    identity = site.services.identity
    identity.create_user("adam", PASSWORD, ["admin"], display_name="Adam Admin")
    identity.create_user("ivan", PASSWORD, ["inspector"], display_name="Ivan Inspector")
    return {"token": identity.issue_token("ivan", "laptop")}


def _sign_in(web, username, password=PASSWORD, path="/"):
    web.goto(path)
    web.page.get_by_label("Username").fill(username)
    web.page.get_by_label("Password").fill(password)
    web.page.get_by_role("button", name="Sign in").click()


def _axe(page) -> list[str]:
    if not AXE.exists():
        return []
    page.evaluate(AXE.read_text() + "\n;0")  # evaluated by the DevTools protocol: the page's CSP does not apply
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in result if v["impact"] in ("serious", "critical")]


def test_admin_deactivates_a_user_who_then_cannot_sign_in_and_whose_token_is_refused(web, site, people, browser):
    ivan_browser = site.app.test_client()
    assert ivan_browser.post("/api/session", json={"username": "ivan", "password": PASSWORD}).status_code == 200
    bearer = {"Authorization": f"Bearer {people['token']}"}
    assert site.app.test_client().get("/api/me", headers=bearer).status_code == 200

    _sign_in(web, "adam")
    page = web.page
    expect(page.locator("#inbox")).to_be_visible()
    admin_link = page.get_by_role("link", name="Administration")
    expect(admin_link).to_be_visible()
    admin_link.click()
    expect(page.locator("#admin")).to_be_visible()
    row = page.locator("#user-list tr[data-username=ivan]")
    expect(row).to_contain_text("Active")
    # the administrator has no button to deactivate themselves
    expect(page.locator("#user-list tr[data-username=adam]").get_by_role("button", name="Deactivate adam")).to_have_count(0)

    row.get_by_role("button", name="Manage ivan").click()
    expect(page.locator("#token-list")).to_contain_text("laptop")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path="/tmp/admin-1280.png", full_page=True)

    row.get_by_role("button", name="Deactivate ivan").click()
    expect(page.locator("#notice")).to_contain_text("ivan is deactivated")
    expect(row).to_contain_text("Deactivated")
    expect(page.locator("#token-list")).to_contain_text("revoked")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path="/tmp/admin-390.png", full_page=True)
    assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1"), "the page scrolls sideways"
    assert _axe(page) == []

    # ivan: the open session and the token are refused at once, and signing in again fails
    assert ivan_browser.get("/api/me").status_code == 401
    assert site.app.test_client().get("/api/me", headers=bearer).status_code == 401
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        ivan_page = other.new_page()
        ivan_page.goto(site.base_url + "/")
        ivan_page.get_by_label("Username").fill("ivan")
        ivan_page.get_by_label("Password").fill(PASSWORD)
        ivan_page.get_by_role("button", name="Sign in").click()
        expect(ivan_page.locator("#sign-in-error")).to_have_text("wrong username or password")
    finally:
        other.close()

    events = [e for e in _system_events(site) if e[1] == "user.deactivated"]
    assert events and events[-1][0] == "adam" and events[-1][2]["username"] == "ivan"
    web.assert_no_errors(allow=(NO_SESSION,))

    # reactivated, ivan signs in again
    row.get_by_role("button", name="Reactivate ivan").click()
    expect(row).to_contain_text("Active")
    assert site.app.test_client().post("/api/session", json={"username": "ivan", "password": PASSWORD}).status_code == 200


def test_admin_creates_users_and_organisations_with_errors_shown(web, site, people):
    _sign_in(web, "adam", path="/admin")
    page = web.page
    page.wait_for_url("**/admin")
    expect(page.locator("#admin")).to_be_visible()
    page.locator("#o-id").fill("lab-z")
    page.locator("#o-name").fill("Lab Zeta")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.locator("#org-list")).to_contain_text("Lab Zeta")

    page.locator("#n-username").fill("zoe")
    page.locator("#n-password").fill("short")
    page.locator("#n-roles").get_by_label("applicant").check()
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#new-user-errors")).to_contain_text("password")
    expect(page.locator("#new-user-errors")).to_contain_text("organisation")
    page.locator("#n-password").fill("a-long-enough-password")
    page.locator("#n-org").select_option("lab-z")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#user-list tr[data-username=zoe]")).to_contain_text("lab-z")

    page.locator("#user-list tr[data-username=zoe]").get_by_role("button", name="Manage zoe").click()
    page.locator("#e-roles").get_by_label("inspector").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#user-list tr[data-username=zoe]")).to_contain_text("applicant, inspector")
    assert site.services.identity.get_user("zoe").roles == ["applicant", "inspector"]
    web.assert_no_errors(allow=(NO_SESSION, "status of 422"))


def test_the_page_is_for_administrators_only(web, site, people):
    web.sign_in("coordinator")
    expect(web.page.locator("#inbox")).to_be_visible()
    expect(web.page.get_by_role("link", name="Administration")).to_be_hidden()
    web.goto("/admin")
    expect(web.page.locator("#not-admin")).to_be_visible()
    expect(web.page.locator("#admin")).to_be_hidden()
    web.assert_no_errors(allow=(NO_SESSION,))  # the sign-in page's own GET /api/me before signing in


def _system_events(site):
    import sqlalchemy as sa

    from engine.storage.models import Event

    with site.services.db.read() as s:
        return [(e.actor, e.action, e.data) for e in s.scalars(
            sa.select(Event).where(Event.case_id.is_(None)).order_by(Event.seq))]


