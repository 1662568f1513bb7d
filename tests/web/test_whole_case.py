"""Proven by: one accreditation case from a new laboratory's application to the award **through the pages
only**, each role signing in in its own browser: eligibility, the application with its documents and the
director's signature, a desk review that asks for information and the laboratory's answer, scheduling, the
team and its conflict-of-interest declaration, the checklist and report, the committee's signed decision with
corrections, the corrective action plan, verification, and the award. Along the way a reviewer downloads a
submitted document, every page is checked for console errors, and screenshots of the main pages are written
to docs/img/ for the staff guide (ACCREDIT_SCREENSHOTS=1)."""
from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import expect

from ..api.conftest import PASSWORD

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
SHOOT = os.environ.get("ACCREDIT_SCREENSHOTS") == "1"


def _pdf(text: str) -> bytes:
    return b"%PDF-1.4\n% " + text.encode() + b"\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


class Person:
    """One signed-in person in their own browser context; records console errors of every page they open."""

    def __init__(self, browser, site, username: str, width: int = 1280):
        self.site, self.username = site, username
        self.context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.problems: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.goto(site.base_url + "/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#who")).to_be_visible()

    def open_task(self, name: str):
        """From the inbox, open the task called ``name``."""
        page = self.page
        page.goto(self.site.base_url + "/")
        expect(page.locator("#inbox")).to_be_visible()
        page.locator("#tasks").get_by_role("link", name=name, exact=True).first.click()
        expect(page.locator("#task-title")).to_have_text(name)
        expect(page.locator("#task-form")).to_be_visible()
        page.locator(".je-ready, #no-form:not([hidden])").first.wait_for()
        return page

    def field(self, path: str):
        """The input of a form field by its json-editor name, e.g. ``sites[0][name]``."""
        name = "root" + "".join(f"[{p}]" for p in re.findall(r"[^\[\]]+", path))
        return self.page.locator(f'[name="{name}"]')

    def submit(self, sign: bool = False):
        if sign:
            self.page.locator("#signature-password").fill(PASSWORD)
        self.page.get_by_role("button", name="Submit").click()
        expect(self.page.locator("#notice")).to_contain_text("Completed")
        expect(self.page.locator("#inbox")).to_be_visible()

    def shot(self, name: str):
        if SHOOT:
            IMG.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(IMG / f"{name}.png"), full_page=True)

    def close(self):
        self.context.close()
        left = [p for p in self.problems if "status of 4" not in p]  # refusals the test provokes are shown in words
        assert not left, left


def _upload(person: Person, path: str, filename: str):
    holder = person.page.locator(f'.attachment[data-path="root.{path}"]')
    holder.locator("input[type=file]").set_input_files(
        {"name": filename, "mimeType": "application/pdf", "buffer": _pdf(filename)})
    expect(holder.locator(".attachment-link")).to_have_text(filename)


def test_an_accreditation_from_application_to_award_through_the_pages(browser, shipped_site):
    site = shipped_site
    identity = site.services.identity
    identity.create_user("ines", PASSWORD, ["inspector"], display_name="Ines Inspector")
    identity.create_user("cody", PASSWORD, ["committee"], display_name="Cody Committee")
    alice = Person(browser, site, "alice")
    carol = Person(browser, site, "carol")

    # -- the laboratory applies: told what to do on its empty inbox, starts from the start page
    expect(alice.page.locator("#getting-started")).to_be_visible()
    alice.shot("inbox-new-laboratory")
    alice.page.get_by_role("link", name="Accreditation cycle").click()
    alice.shot("start")
    alice.page.get_by_role("button", name="Start: Accreditation cycle").click()
    expect(alice.page.locator("#task-title")).to_have_text("Submit eligibility application")
    alice.page.locator(".je-ready").wait_for()
    alice.field("organisation_name").fill("North Cell Lab")
    alice.page.get_by_label("Collection").check()
    alice.field("sites[0][name]").fill("Main site")
    alice.field("sites[0][address]").fill("1 Lab Road, Leeds")
    alice.field("months_in_operation").fill("24")
    alice.field("membership_active").select_option(label="Yes")
    alice.field("membership_number").fill("M-0042")
    alice.submit()

    # -- eligibility review: the coordinator sees the application read-only
    page = carol.open_task("Review eligibility")
    expect(page.locator("#context")).to_contain_text("North Cell Lab")
    carol.shot("task-eligibility-review")
    carol.field("eligibility_decision").select_option(label="Approve")
    carol.submit()

    # -- the application with documents and the director's signature
    page = alice.open_task("Submit compliance application")
    for i, (kind, label) in enumerate((("sop", "Sop"), ("qms_manual", "Qms manual"),
                                       ("staff_qualification", "Staff qualification"))):
        _upload(alice, f"documents.{i}.attachment_id", f"{kind}.pdf")
        alice.field(f"documents[{i}][document_type]").select_option(kind)
        alice.field(f"documents[{i}][title]").fill(f"Our {kind.replace('_', ' ')}")
        alice.field(f"documents[{i}][standard]").fill("B4.1")
    alice.field("director_signature[name]").fill("Dr Alice Director")
    alice.field("director_signature[signed]").check()
    alice.shot("task-compliance-application")
    alice.submit(sign=True)

    # -- desk review asks for information; the reviewer downloads a submitted document first
    page = carol.open_task("Desk review")
    link = page.locator("#context").get_by_role("link", name="qms_manual.pdf")
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == _pdf("qms_manual.pdf")
    carol.field("desk_review_outcome").select_option(label="Request information (RFI) from the laboratory")
    carol.field("rfi_questions").fill("Which version of the QMS manual is in force?")
    carol.shot("task-desk-review")
    carol.submit()

    page = alice.open_task("Answer request for information")
    expect(page.locator("#context")).to_contain_text("Which version of the QMS manual is in force?")
    alice.field("rfi_answer").fill("Version 7, approved 2026-10-01.")
    alice.submit()

    page = carol.open_task("Desk review")
    carol.field("desk_review_outcome").select_option(label="Complete: no questions")
    carol.submit()

    # -- scheduling and the team
    carol.open_task("Schedule inspection")
    carol.field("inspection_date").fill("2027-03-15")
    carol.field("inspection_mode").select_option(label="On site")
    carol.submit()
    page = alice.open_task("Confirm inspection dates")
    expect(page.locator("#context")).to_contain_text("2027-03-15")
    expect(alice.field("dates_confirmed")).to_have_value("_placeholder_")  # nobody confirmed for her
    alice.field("dates_confirmed").select_option(label="Yes")
    alice.submit()
    carol.open_task("Assign inspection team")
    carol.field("team_leader").select_option(label="Ines Inspector (ines)")  # a person, not a typed username
    carol.shot("task-assign-inspectors")
    carol.submit()

    ines = Person(browser, site, "ines")
    ines.open_task("Declare conflict of interest")
    ines.field("conflict_of_interest").select_option(label="No")
    ines.submit()
    page = alice.open_task("Review inspection team")
    expect(page.locator("#context")).to_contain_text("ines")
    alice.field("team_objection").select_option(label="No")
    alice.submit()

    # -- inspection: checklist and report
    page = ines.open_task("Complete inspection checklist")
    ines.field("checklist_items[0][item]").fill("Product labelling")
    ines.field("checklist_items[0][standard]").fill("B5.1")
    ines.field("checklist_items[0][compliant]").select_option(label="No")
    ines.field("checklist_items[0][severity]").select_option(label="Minor")
    ines.field("checklist_items[0][comment]").fill("Labels fade in the freezer")
    ines.submit()
    page = ines.open_task("Write inspection report")
    expect(page.locator("#context")).to_contain_text("Labels fade in the freezer")
    page.get_by_role("button", name=re.compile("^Add")).first.click()
    ines.field("citations[0][standard]").fill("B5.1")
    ines.field("citations[0][finding]").fill("Labels fade in the freezer")
    ines.field("citations[0][severity]").select_option(label="Minor")
    ines.field("report_summary").fill("One minor citation.")
    ines.submit()
    ines.close()

    # -- the committee decides and signs
    cody = Person(browser, site, "cody")
    page = cody.open_task("Committee decision")
    expect(page.locator("#context")).to_contain_text("One minor citation.")
    expect(page.locator("#context")).to_contain_text("Product labelling")
    cody.field("decision").select_option(label="Grant pending corrections")
    cody.field("decision_reason").fill("Fix the labels.")
    expect(cody.field("correction_deadline").locator("option")).to_have_text(
        ["— choose —", "14 days", "30 days", "60 days", "90 days"])  # not an ISO 8601 duration to type
    cody.shot("task-committee-decision")
    cody.submit(sign=True)
    cody.close()

    # -- corrective actions, verification, award
    page = alice.open_task("Submit corrective action plan")
    expect(page.locator("#context")).to_contain_text("Labels fade in the freezer")
    alice.field("corrective_actions[0][citation]").fill("B5.1 labels")
    alice.field("corrective_actions[0][explanation]").fill("Freezer-grade labels since 2027-03-20.")
    _upload(alice, "corrective_actions.0.evidence_attachment_id", "labels.pdf")
    alice.submit()
    page = carol.open_task("Verify corrections")
    expect(page.locator("#context")).to_contain_text("Freezer-grade labels")
    # the committee's deadline reads in words (the diagram's default applied: nobody chose one), not "P30D"
    expect(page.locator("#context")).to_contain_text("30 days")
    expect(page.locator("#context")).not_to_contain_text("P30D")
    carol.field("verification").select_option(label="Accepted")
    carol.submit(sign=True)

    case_id = site.services.workspace.list_cases(identity.actor("alice")).items[0].id
    case = site.case(case_id)
    assert case["data"]["certificate_number"].startswith("ACC-")
    alice.page.goto(f"{site.base_url}/cases/{case_id}")
    expect(alice.page.locator("#case-meta")).to_contain_text(case["data"]["certificate_number"])
    expect(alice.page.locator("#attachments tbody tr").first).to_be_visible()
    expect(alice.page.locator("#history tbody tr").first).to_be_visible()
    expect(alice.page.locator("#steps li").first).to_be_visible()  # the diagram is drawn and marked
    alice.shot("case")
    alice.close()
    carol.close()
