"""The audit console and the step heat in a real browser (Debian's headless Chromium, the real app over
HTTP): an auditor filters a case's history, opens an event, verifies the chain, downloads the three exports,
sees a tampered copy reported broken with what differs; the system history; the step heat overlay counts
match a seeded set of cases; the HTML 404 page. Each page is checked at 1280 and 390 px with axe-core
(no serious or critical violation) and without console errors. Screenshots go to docs/img/ (the auditor's
guide shows them)."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import expect

from engine.actors import Actor

from ..api.conftest import PASSWORD
from ..engine.test_audit import SIGN, signed_bundle, tamper
from .conftest import Page, _serve, membership_bundle

ROOT = Path(__file__).resolve().parents[2]
IMG = ROOT / "docs" / "img"
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
NO_SESSION = "status of 401"
expect.set_options(timeout=10_000)  # two shared cores: a diagram import can take a few seconds

ALICE = Actor("alice", {"applicant"}, "lab-a", "Alice")
CODY = Actor("cody", {"committee"}, None, "Cody Committee")
# the quality manager (quinn) is one of tests/web/conftest.py's USERS already
STAFF = {"audrey": ["auditor"], "cody": ["committee"], "carol2": ["coordinator"]}


@pytest.fixture(scope="module")
def audit_site(tmp_path_factory):
    for site in _serve(tmp_path_factory, (signed_bundle(), membership_bundle())):
        for username, roles in STAFF.items():
            site.services.identity.create_user(username, PASSWORD, roles, display_name=username.title())
        yield site


@pytest.fixture
def aweb(browser, audit_site):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield Page(page, audit_site)
    finally:
        context.close()


def sign_in(web: Page, username: str, path: str) -> None:
    web.goto(path)
    web.page.get_by_label("Username").fill(username)
    web.page.get_by_label("Password").fill(PASSWORD)
    web.page.get_by_role("button", name="Sign in").click()


def axe_serious(web: Page) -> list[str]:
    """axe-core's serious and critical violations of the page as it is now (bpmn.io's own canvas excluded:
    its watermark link is the library's, kept unchanged by its licence)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm install --prefix tests/browser)")
    web.page.evaluate(AXE.read_text() + "\n;undefined")
    result = web.page.evaluate("""async () => {
        const r = await axe.run({exclude: [['.bjs-powered-by']]}, {resultTypes: ['violations']});
        return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
                 .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '));
    }""")
    return result


def look(web: Page, name: str, full_page: bool = True) -> None:
    """Screenshots at desktop and phone width, and axe-core at both."""
    IMG.mkdir(parents=True, exist_ok=True)
    web.page.set_viewport_size({"width": 1280, "height": 900})
    web.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    web.page.screenshot(path=str(IMG / f"{name}.png"), full_page=full_page)
    assert axe_serious(web) == []
    web.page.set_viewport_size({"width": 390, "height": 844})
    web.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # resize ran
    web.page.screenshot(path=f"/tmp/{name}-390.png", full_page=full_page)
    assert axe_serious(web) == []
    overflow = web.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name}: the page scrolls sideways by {overflow}px at 390px"
    web.page.set_viewport_size({"width": 1280, "height": 900})


def signed_case(site, key: str) -> str:
    engine = site.services.engine
    case = engine.start_case("signed", ALICE, "lab-a", business_key=key)
    case = engine.complete_task(case.tasks[0].id, ALICE, {"statement": "We comply."}, signature=SIGN)
    engine.complete_task(case.tasks[0].id, CODY, {"decision": "grant", "decision_reason": "All standards met."},
                         signature=SIGN)
    return case.id


def test_auditor_filters_verifies_exports_and_sees_tampering(aweb, audit_site):
    case_id = signed_case(audit_site, "AUDIT-WEB-1")
    sign_in(aweb, "audrey", f"/audit/cases/{case_id}")
    page = aweb.page
    expect(page.locator("#case-title")).to_have_text("Audit of AUDIT-WEB-1")
    expect(page.get_by_role("link", name="Audit", exact=True)).to_be_visible()  # the nav link for auditors
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("Intact.")
    api_head = _verify(audit_site, case_id)["head"]
    expect(page.locator("#chain-head")).to_have_text(f"{api_head['seq']}:{api_head['hash']}")

    # signatures: meaning, signer, binding
    rows = page.locator("#signatures tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("approval")
    expect(rows.nth(1)).to_contain_text("Cody Committee (cody)")
    expect(rows.nth(1)).to_contain_text("matches the signed data")

    # filters: role, then event type; the address keeps them
    total = api_head["seq"]
    expect(page.locator("#timeline-count")).to_have_text(f"{total} events, oldest first.")
    page.get_by_label("Role").select_option("committee")
    expect(page.locator("#timeline-count")).to_contain_text(f"of {total} events match")
    for role in page.locator("#timeline .role").all_text_contents():
        assert role.strip() == "as committee"
    page.get_by_label("Event type").select_option("task.completed")
    items = page.locator("#timeline > li")
    expect(items).to_have_count(1)
    assert "role=committee" in page.url and "action=task.completed" in page.url
    items.first.locator("> details > summary").click()
    body = items.first.locator(".event-body")
    expect(body.locator("table.changes")).to_contain_text("decision_reason")
    expect(body.locator("table.changes")).to_contain_text("All standards met.")
    expect(body.locator(".signature-line")).to_contain_text("Signed (approval) by Cody Committee (cody)")
    event = _event(audit_site, case_id, int(items.first.get_attribute("data-seq")))
    expect(body.locator(".hashes")).to_contain_text(event["hash"])
    expect(body.locator(".hashes")).to_contain_text(event["prev_hash"])
    page.get_by_label("Element").select_option("decide")
    expect(items).to_have_count(1)
    look(aweb, "audit-case")
    page.get_by_role("button", name="Clear filters").click()
    expect(page.locator("#timeline-count")).to_have_text(f"{total} events, oldest first.")

    # the three exports, downloaded from the page
    with page.expect_download() as got:
        page.get_by_role("link", name="History as CSV").click()
    csv_rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text())))
    assert got.value.suggested_filename == "AUDIT-WEB-1-history.csv" and len(csv_rows) == total
    with page.expect_download() as got:
        page.get_by_role("link", name="History as JSON").click()
    record = json.loads(Path(got.value.path()).read_text())
    assert record["verification"]["ok"] is True and len(record["events"]) == total
    with page.expect_download() as got:
        page.get_by_role("link", name="Case record as PDF").click()
    assert got.value.suggested_filename == "AUDIT-WEB-1-record.pdf"
    assert Path(got.value.path()).read_bytes().startswith(b"%PDF")

    # a tampered copy: the actor of event 3 rewritten in the database, triggers dropped first
    tamper(audit_site.services.db, ("UPDATE event SET actor = 'mallory' WHERE case_id = :c AND seq = 3",
                                    {"c": case_id}))
    page.get_by_role("button", name="Verify again").click()
    expect(verdict).to_contain_text("Broken at event 3.")
    expect(verdict.locator("table.differs")).to_contain_text("hash")
    expect(verdict.locator("table.differs")).to_contain_text("content was edited")
    page.get_by_role("button", name="Show event 3 in the history").click()
    broken = page.locator('#timeline li[data-seq="3"]')
    expect(broken).to_have_class("broken")
    expect(broken.locator("> details")).to_have_attribute("open", "")
    expect(broken.locator("> details > summary")).to_contain_text("mallory")
    look(aweb, "audit-broken")
    aweb.assert_no_errors(allow=(NO_SESSION,))


def test_recorded_head_is_checked_and_a_bad_one_is_named(aweb, audit_site):
    case_id = signed_case(audit_site, "AUDIT-WEB-2")
    head = _verify(audit_site, case_id)["head"]
    sign_in(aweb, "audrey", f"/audit/cases/{case_id}")
    page = aweb.page
    expect(page.locator("#verdict")).to_contain_text("Intact.")
    page.get_by_label("Check against a head you recorded earlier").fill(f"{head['seq']}:{'f' * 64}")
    page.get_by_role("button", name="Verify again").click()
    expect(page.locator("#verdict")).to_contain_text(f"Broken at event {head['seq']}.")
    expect(page.locator("#verdict")).to_contain_text("rewritten after the anchor")
    page.get_by_label("Check against a head you recorded earlier").fill("nonsense")
    page.get_by_role("button", name="Verify again").click()
    expect(page.locator("#verdict")).to_contain_text("SEQ:HASH")
    expect(page.locator("#anchor")).to_have_attribute("aria-invalid", "true")
    aweb.assert_no_errors(allow=(NO_SESSION, "status of 422"))


def test_auditor_sees_no_comment_box_on_the_case_page_but_staff_do(aweb, audit_site):
    case_id = signed_case(audit_site, "AUDIT-WEB-3")
    sign_in(aweb, "audrey", f"/cases/{case_id}")
    expect(aweb.page.locator("#case-title")).to_contain_text("AUDIT-WEB-3")
    expect(aweb.page.locator("#comments-empty")).to_be_visible()
    expect(aweb.page.locator("#comment-form")).to_be_hidden()
    expect(aweb.page.locator("#history tbody tr").first).to_be_visible()  # the page finished loading
    aweb.page.get_by_role("button", name="Sign out").click()
    expect(aweb.page.get_by_label("Username")).to_be_visible()
    sign_in(aweb, "cody", f"/cases/{case_id}")
    expect(aweb.page.locator("#comment-form")).to_be_visible()
    expect(aweb.page.get_by_role("link", name="Audit", exact=True)).to_be_hidden()  # committee: no audit link
    aweb.assert_no_errors(allow=(NO_SESSION,))


def test_a_laboratory_reads_its_case_audit_without_any_form_to_write(aweb, audit_site):
    case_id = signed_case(audit_site, "AUDIT-WEB-4")
    sign_in(aweb, "alice", f"/audit/cases/{case_id}")
    page = aweb.page
    expect(page.locator("#verdict")).to_contain_text("Intact.")
    expect(page.locator("#timeline > li").first).to_be_visible()
    assert page.locator("textarea").count() == 0
    assert page.locator("button[type=submit]").all_text_contents() == ["Verify again"]
    aweb.assert_no_errors(allow=(NO_SESSION,))


def test_system_history_with_filters_and_verification(aweb, audit_site):
    sign_in(aweb, "audrey", "/audit")
    page = aweb.page
    expect(page.get_by_role("link", name="System history")).to_be_visible()
    expect(page.locator("#cases-count")).to_contain_text("case")
    assert axe_serious(aweb) == []
    page.get_by_role("link", name="System history").click()
    expect(page.locator("#verdict")).to_contain_text("Intact.")
    page.get_by_label("Event type").select_option("login")
    expect(page.locator("#timeline-count")).to_contain_text("match the filters")
    actions = page.locator("#timeline .action").all_text_contents()
    assert actions and set(actions) == {"login"}
    page.get_by_label("Actor").select_option("audrey")
    expect(page.locator("#timeline > li").first).to_contain_text("audrey")
    assert page.locator("#f-role-field").is_hidden()  # system events have no role: no empty picker
    look(aweb, "audit-system")
    aweb.assert_no_errors(allow=(NO_SESSION,))


def test_system_history_is_refused_to_a_coordinator_in_words(aweb, audit_site):
    sign_in(aweb, "carol", "/audit/system")
    expect(aweb.page.locator("#audit-system")).to_contain_text("for auditors and administrators")
    aweb.assert_no_errors(allow=(NO_SESSION, "status of 403"))


def test_step_heat_overlay_counts_match_the_seeded_cases(aweb, audit_site):
    engine = audit_site.services.engine
    coordinator = Actor("carol", {"coordinator"}, None, "Carol")
    application = {"member_category": "individual", "applicant_name": "A. Person", "credentials": "MD"}
    waiting = {"membership_application": 0, "membership_review": 0, "record_dues": 0}
    t0 = datetime(2026, 6, 1, 9, 0, tzinfo=timezone.utc)  # the clock moved by time-machine: exact durations
    for n in range(4):
        with time_machine.travel(t0 + timedelta(days=n), tick=False):
            case = engine.start_case("membership", ALICE, "lab-a", business_key=f"HEAT-{n}")
        if n == 0:
            waiting["membership_application"] += 1
            continue
        with time_machine.travel(t0 + timedelta(days=n, hours=2), tick=False):
            case = engine.complete_task(case.tasks[0].id, ALICE, application)
        if n < 3:
            waiting["membership_review"] += 1
            continue
        with time_machine.travel(t0 + timedelta(days=n, hours=5), tick=False):
            engine.complete_task(case.tasks[0].id, coordinator, {"membership_decision": "approve"})
        waiting["record_dues"] += 1
    sign_in(aweb, "quinn", "/audit/steps?process=membership")
    page = aweb.page
    expect(page.locator(".heat-badge").first).to_be_visible(timeout=30_000)  # the diagram is imported
    for element_id, count in waiting.items():
        expect(page.locator(f'.heat-badge[data-element-id="{element_id}"]')).to_have_text(str(count))
        expect(page.locator(f'#step-table tr[data-element-id="{element_id}"] td.waiting')).to_have_text(str(count))
    expect(page.locator('.heat-badge[data-element-id="membership_review"]')).to_have_attribute("data-level", "4")
    expect(page.locator('#step-table tr[data-element-id="membership_review"]')).to_contain_text("Review membership")
    assert "membership_review:4" in page.locator("#diagram").get_attribute("data-heat")
    expect(page.locator(".bjs-powered-by")).to_be_visible()  # bpmn.io's watermark stays
    expect(page.locator('#step-table tr[data-element-id="membership_application"] td.median')).to_have_text("2.0 h")
    expect(page.locator('#step-table tr[data-element-id="membership_review"] td.median')).to_have_text("3.0 h")
    page.get_by_label("Colour by").select_option("median_seconds")
    expect(page.locator('.heat-badge[data-element-id="membership_review"]')).to_have_attribute("data-level", "4")
    expect(page.locator('.heat-badge[data-element-id="membership_application"]')).to_have_attribute("data-level", "3")
    page.get_by_label("Colour by").select_option("waiting_now")
    look(aweb, "audit-steps")
    page.get_by_label("Entered from (UTC day)").fill("2099-01-01")
    page.get_by_label("Entered from (UTC day)").dispatch_event("change")
    expect(page.locator('#step-table tr[data-element-id="membership_review"] td.waiting')).to_have_text("0")
    aweb.assert_no_errors(allow=(NO_SESSION,))


def test_unknown_page_is_an_html_page_with_a_way_home(aweb, audit_site):
    response = aweb.page.goto(audit_site.base_url + "/audit/nowhere/at/all")
    assert response.status == 404
    expect(aweb.page.get_by_role("heading", name="Page not found")).to_be_visible()
    aweb.page.get_by_role("link", name="Go to the start page").click()
    expect(aweb.page.get_by_label("Username")).to_be_visible()
    aweb.page.goto(audit_site.base_url + "/nowhere")
    look(aweb, "page-not-found", full_page=False)
    aweb.assert_no_errors(allow=(NO_SESSION, "status of 404"))


def _verify(site, case_id: str) -> dict:
    from engine.reports.audit import verify_chain

    return verify_chain(site.services.db, case_id)


def _event(site, case_id: str, seq: int) -> dict:
    import sqlalchemy as sa

    from engine.records.history import as_dict
    from engine.storage.models import Event

    with site.services.db.read() as s:
        return as_dict(s.scalar(sa.select(Event).where(Event.case_id == case_id, Event.seq == seq)))
