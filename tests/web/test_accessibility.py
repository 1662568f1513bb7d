"""Every main page, at desktop and phone width: axe-core (from npm, loaded by the test only) finds no serious or
critical violation, nothing scrolls sideways at 390 px, and the console stays clean."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..api.conftest import PASSWORD
from ..scenarios.forms_data import form

AXE = Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def pages(shipped_site):
    """Paths of the main pages, with a case whose review task has a decision context."""
    site = shipped_site
    case = site.start("accreditation")
    r = site.client("applicant").post(f"/api/tasks/{case['tasks'][0]['id']}/complete",
                                      json={"data": form("eligibility_application")})
    assert r.status_code == 200, r.get_json()
    review = next(t for t in site.case(case["id"])["tasks"] if t["element_id"] == "eligibility_review")
    return ["/", "/start", "/cases", f"/tasks/{review['id']}", f"/cases/{case['id']}"]


def _sign_in(page, base, username):
    page.goto(base + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who")).to_be_visible()


def _serious(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                           ".filter(v => ['serious', 'critical'].includes(v.impact))"
                           ".map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))")
    return result


@pytest.mark.parametrize("width", [1280, 390])
def test_main_pages_are_accessible_and_fit_a_phone(browser, shipped_site, pages, width):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm install --prefix tests/browser)")
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)  # to inject axe
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    try:
        page.goto(shipped_site.base_url + "/")
        expect(page.get_by_label("Username")).to_be_visible()
        found = {"/ (sign in)": _serious(page)}
        _sign_in(page, shipped_site.base_url, "carol")
        for path in pages:
            page.goto(shipped_site.base_url + path)
            page.wait_for_load_state("networkidle")
            found[path] = _serious(page)
            wide = page.evaluate("document.documentElement.scrollWidth")
            if wide > width:
                culprits = page.evaluate(f"""() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > {width} + 1 && !e.closest('.scroll-x'))
                    .slice(0, 6).map(e => e.tagName + '#' + e.id + '.' + e.className)""")
                raise AssertionError(f"{path} scrolls sideways at {width}px ({wide}px wide): {culprits}")
        assert not {k: v for k, v in found.items() if v}, found
        assert not problems, problems
    finally:
        context.close()
