"""The process studio in a real browser (docs/quality-manager-guide.md): a quality manager changes the
accreditation diagram in the bpmn-js modeler, sees a validation error marked on its element, deploys version 2
with a note, compares the versions and migrates a running case. Screenshots go to /tmp/studio-*.png."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

SHOTS = "/tmp/studio-"


@pytest.fixture
def qm(web, shipped_site):
    web.sign_in("quality_manager")
    expect(web.page.locator("#who-name")).to_contain_text("Quinn")
    web.problems.clear()  # the sign-in page's own 401 for "who is signed in?"
    web.goto("/studio")
    return web


def test_studio_lists_every_process_with_its_versions(qm, shipped_site):
    page = qm.page
    expect(page.locator('article.process[data-key="accreditation"]')).to_be_visible()
    row = page.locator('article[data-key="accreditation"] tr[data-version="1"]')
    expect(row).to_contain_text("v1")
    expect(row).to_contain_text("shipped library")
    page.screenshot(path=SHOTS + "list.png", full_page=True)
    qm.assert_no_errors()


def test_editor_opens_the_accreditation_diagram(qm, shipped_site):
    page = qm.page
    qm.goto("/studio/accreditation/versions/1")
    expect(page.locator("#editor[data-ready=true]")).to_be_attached(timeout=20_000)
    page.screenshot(path=SHOTS + "editor.png", full_page=True)
    qm.assert_no_errors()
