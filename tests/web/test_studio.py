"""The process studio in a real browser (docs/quality-manager-guide.md): a quality manager changes the
accreditation diagram in the bpmn-js modeler, sees a validation error marked on its element, deploys version 2
with a note, compares the versions and migrates a running case. Screenshots go to /tmp/studio-*.png."""
from __future__ import annotations

import re
from pathlib import Path

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
    expect(page.locator("#canvas .bjs-powered-by")).to_be_visible()  # the bpmn.io licence's watermark
    expect(page.locator('#canvas .djs-element[data-element-id="compliance_application"]')).to_have_count(1)
    expect(page.locator('#canvas .djs-element[data-element-id="eligibility_phase"]')).to_have_count(1)  # a phase
    expect(page.locator("#canvas .djs-palette")).to_be_visible()  # the modeler, not a viewer
    page.screenshot(path=SHOTS + "editor.png", full_page=True)
    qm.assert_no_errors()


def _select(page, element_id: str):
    """Scroll the modeler's canvas to an element, click its drawn shape and wait for the panel to show it."""
    page.evaluate("id => { const m = window.studioModeler; "
                  "m.get('canvas').scrollToElement(m.get('elementRegistry').get(id), {top: 200, left: 300}); }",
                  element_id)
    page.locator(f'#canvas .djs-element[data-element-id="{element_id}"]').first.click(force=True)
    expect(page.locator("#panel-body .element-type code")).to_have_text(element_id)


def _set(page, field: str, value: str):
    box = page.locator(f"#prop-{field}")
    box.fill(value)
    box.dispatch_event("change")


def test_quality_manager_changes_validates_deploys_compares_and_migrates(qm, shipped_site):
    case = shipped_site.start("accreditation", business_key="STUDIO-MIGRATE-1")
    page = qm.page
    page.get_by_role("link", name="Open accreditation version 1").click()
    expect(page.locator("#editor[data-ready=true]")).to_be_attached(timeout=20_000)

    # a label and a timer, in the properties panel (of the top-level diagram: the phases are files of their own)
    _select(page, "compliance_application")
    expect(page.locator("#panel-body .role")).to_contain_text("applicant")
    _set(page, "name", "Submit compliance application (with SOPs)")
    expect(page.locator('#canvas [data-element-id="compliance_application"] text')).to_contain_text("with SOPs")
    _select(page, "compliance_lapse")
    expect(page.locator("#prop-timer")).to_have_value("compliance_lapse_after")  # the DMN table deadlines
    _set(page, "timer", "P13M")  # unquoted: not Python, the engine refuses it
    expect(page.locator("#changed-files")).to_contain_text("accreditation.bpmn")

    # validate: the error is listed and marked on its element; clicking it selects the element
    _select(page, "compliance_application")
    page.get_by_role("button", name="Validate").click()
    problem = page.locator('#problems button.problem[data-element="compliance_lapse"]')
    expect(problem).to_contain_text("quote the ISO 8601 value")
    expect(page.locator('#canvas .djs-element.studio-error[data-element-id="compliance_lapse"]')).to_have_count(1)
    expect(page.locator("#canvas .problem-badge")).to_have_count(1)
    page.screenshot(path=SHOTS + "problem.png", full_page=True)
    problem.click()
    expect(page.locator("#panel-body .element-type code")).to_have_text("compliance_lapse")
    expect(page.locator('#canvas .djs-element.selected[data-element-id="compliance_lapse"]')).to_have_count(1)

    # fix it, validate again: clean
    _set(page, "timer", '"P13M"')
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#validation-status")).to_have_text("No problems: the bundle is valid.")
    expect(page.locator("#canvas .studio-error")).to_have_count(0)

    # deploy: the note is required
    page.get_by_role("button", name="Deploy as a new version").click()
    expect(page.locator("#note-error")).to_contain_text("Write why")
    page.get_by_label("Change note").fill("SOPs with the compliance application; 13 months before it lapses")
    page.get_by_role("button", name="Deploy as a new version").click()
    deployed = page.locator('#deploy-result li[data-key="accreditation"]')
    expect(deployed).to_contain_text("accreditation v2 deployed")
    page.screenshot(path=SHOTS + "deployed.png", full_page=True)
    versions = {v["version"]: v for v in qm.site.client("quality_manager").get(
        "/api/process-definitions/accreditation").get_json()["versions"]}
    assert versions[2]["note"].startswith("SOPs with") and versions[2]["deployed_by"] == "quinn"

    # the diff: both changes listed and marked
    deployed.get_by_role("link", name="Compare v1 → v2").click()
    expect(page.locator("#diff[data-ready=true]")).to_be_attached(timeout=20_000)
    changed = page.locator('#diff-list li.changed[data-element="compliance_application"]')
    expect(changed).to_contain_text("Submit compliance application (with SOPs)")
    expect(page.locator('#diff-list li.changed[data-element="compliance_lapse"]')).to_be_visible()
    expect(page.locator('#to-canvas .djs-element.diff-changed[data-element-id="compliance_application"]')) \
        .to_have_count(1)
    expect(page.locator("#diff-files")).to_contain_text("accreditation.bpmn")
    page.screenshot(path=SHOTS + "diff.png", full_page=True)
    if AXE.exists():
        assert not _axe(page)

    # the new version is listed at once, with its note; then migration: dry run, then migrate the running case
    qm.goto("/studio")
    v2 = page.locator('article[data-key="accreditation"] tr[data-version="2"]')
    expect(v2).to_contain_text("SOPs with the compliance application")
    expect(v2).to_contain_text("quinn")
    expect(v2.locator(".badge")).to_have_text("latest")
    page.get_by_role("link", name="Migrate cases of accreditation version 1").click()
    expect(page.locator("#migrate[data-ready=true]")).to_be_attached()
    page.get_by_role("button", name="Dry run").click()
    row = page.locator(f'#dry-run-table tr[data-case-id="{case["id"]}"]')
    expect(row).to_contain_text("Can move.")
    expect(page.locator("#dry-run-summary")).to_contain_text("1 can move")
    assert shipped_site.case(case["id"])["definition_version"] == 1  # the dry run changed nothing
    page.screenshot(path=SHOTS + "dry-run.png", full_page=True)
    page.get_by_role("button", name="Migrate the chosen cases").click()
    result = page.locator(f'#migration-list li[data-case-id="{case["id"]}"]')
    expect(result).to_contain_text("moved from v1 to v2")
    page.screenshot(path=SHOTS + "migrated.png", full_page=True)
    if AXE.exists():
        assert not _axe(page)
    after = shipped_site.case(case["id"])
    assert after["definition_version"] == 2
    events = shipped_site.client("quality_manager").get(f"/api/cases/{case['id']}/history?action=case.migrated")
    assert [(e["data"]["from_version"], e["data"]["to_version"]) for e in events.get_json()] == [(1, 2)]
    qm.goto("/studio")
    expect(page.locator('article[data-key="accreditation"] tr[data-version="1"] td[data-label="Open cases"]')) \
        .to_have_text("0")
    expect(page.locator('article[data-key="accreditation"] tr[data-version="2"] td[data-label="Open cases"]')) \
        .to_have_text("1")
    page.locator('article[data-key="accreditation"]').screenshot(path=SHOTS + "list-after.png")
    qm.assert_no_errors()


#: dmn-js 17's production bundle embeds Inferno's development build, which says so on the console (upstream)
INFERNO = "development build of Inferno"


def test_form_schema_editor_previews_live_and_dmn_opens_in_dmn_js(qm, shipped_site):
    page = qm.page
    qm.goto("/studio/accreditation/versions/1")
    expect(page.locator("#editor[data-ready=true]")).to_be_attached(timeout=20_000)
    page.get_by_label("File").select_option("eligibility_review.json")
    expect(page.locator("#form-pane")).to_be_visible()
    preview = page.locator("#form-preview")
    expect(preview.locator("input, select, textarea").first).to_be_attached()
    source = page.locator("#form-source")
    schema = source.input_value()
    first_title = re.search(r'"title":\s*"([^"]+)"', schema).group(1)
    expect(preview).to_contain_text(first_title)
    source.fill(schema.replace(f'"{first_title}"', '"A title typed in the studio"', 1))
    expect(preview).to_contain_text("A title typed in the studio")
    expect(page.locator("#changed-files")).to_contain_text("eligibility_review.json")
    page.screenshot(path=SHOTS + "form.png", full_page=True)
    source.fill('{"type": "object",')
    expect(page.locator("#form-json-error")).to_contain_text("Not valid JSON")
    page.get_by_label("File").select_option("eligibility_check.dmn")
    expect(page.locator("#dmn-pane")).to_be_visible()
    expect(page.locator("#dmn-canvas .tjs-table")).to_be_visible(timeout=20_000)
    page.screenshot(path=SHOTS + "dmn.png", full_page=True)
    qm.assert_no_errors(allow=(INFERNO,))


AXE = Path(__file__).resolve().parents[1] / "browser" / "node_modules" / "axe-core" / "axe.min.js"  # .ci/run installs it


def _axe(page) -> list[str]:
    """Serious and critical axe-core violations of the page as it is now."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: npm install --prefix tests/browser")
@pytest.mark.parametrize("width", [1280, 390])
def test_studio_pages_are_accessible_at_desktop_and_phone_width(qm, shipped_site, width):
    page = qm.page
    page.set_viewport_size({"width": width, "height": 900})
    for name, path, ready in (("list", "/studio", 'article[data-key="accreditation"]'),
                              ("editor", "/studio/accreditation/versions/1", "#editor[data-ready=true]"),
                              ("migrate", "/studio/accreditation/versions/1/migrate", "#migrate[data-ready=true]")):
        qm.goto(path)
        expect(page.locator(ready)).to_be_attached(timeout=20_000)
        if name == "editor":
            _select(page, "compliance_application")
        page.screenshot(path=f"{SHOTS}{name}-{width}.png", full_page=True)
        assert not _axe(page), (path, _axe(page))
    qm.assert_no_errors()


def test_only_quality_managers_see_the_studio_link(web, shipped_site):
    web.sign_in("coordinator")
    expect(web.page.locator("#who-name")).to_contain_text("Carol")
    expect(web.page.locator("#nav-studio")).to_be_hidden()


def _extensions(xml: str) -> dict:
    """Every spiffworkflow extension, timer, condition and script of a BPMN text, by element id."""
    from lxml import etree

    root = etree.fromstring(xml.encode("utf-8"))
    out = {}
    for node in root.iter():
        if not isinstance(node.tag, str) or node.get("id") is None:
            continue
        found = []
        for child in node.iter():
            if not isinstance(child.tag, str):
                continue
            tag = etree.QName(child).localname
            if "spiffworkflow" in child.tag or tag in ("timeDuration", "timeDate", "timeCycle",
                                                       "conditionExpression", "script"):
                found.append((tag, dict(child.attrib), (child.text or "").strip()))
        out[node.get("id")] = found
    return out


def test_the_modeler_keeps_everything_the_engine_reads(qm, shipped_site):
    """Open and save every shipped diagram in the modeler: no extension, timer, script or condition is lost."""
    from ..conftest import PROCESSES

    page = qm.page
    qm.goto("/studio/accreditation/versions/1")
    expect(page.locator("#editor[data-ready=true]")).to_be_attached(timeout=20_000)
    for path in sorted(PROCESSES.glob("*.bpmn")):
        original = path.read_text()
        saved = page.evaluate("async xml => { const m = window.studioModeler; await m.importXML(xml); "
                              "return (await m.saveXML({format: true})).xml; }", original)
        assert _extensions(saved) == _extensions(original), path.name
        assert page.evaluate("() => StudioHints.collect(window.studioModeler, 'x')") == [], path.name
    qm.assert_no_errors()


def test_panel_writes_the_properties_the_engine_reads(qm, shipped_site):
    page = qm.page
    qm.goto("/studio/accreditation/versions/1")
    expect(page.locator("#editor[data-ready=true]")).to_be_attached(timeout=20_000)
    _select(page, "compliance_application")
    page.locator("#prop-signatureMeaning").select_option("review")
    _set(page, "shareWith", "inspector")
    _set(page, "PostScript", "reviewed = True")
    _select(page, "compliance_lapse")
    _set(page, "scheduleKind", "application_lapse")
    _select(page, "Lane_applicant")
    _set(page, "role", "applicant")
    xml = page.evaluate("async () => (await window.studioModeler.saveXML({format: true})).xml")
    found = _extensions(xml)
    review = {(t, a.get("name")): a.get("value", text) for t, a, text in found["compliance_application"]}
    assert review[("property", "signatureMeaning")] == "review"
    assert review[("property", "shareWith")] == "inspector"
    assert review[("postScript", None)] == "reviewed = True"
    assert ("property", {"name": "scheduleKind", "value": "application_lapse"}, "") in found["compliance_lapse"]
    qm.assert_no_errors()


def test_panel_offers_the_properties_the_server_declares(qm, shipped_site):
    """The panel's list comes from the server's vocabulary: a start event offers calledOnly and caseTeam (no section
    of the panel draws them), a user task offers the rest of what the engine reads on it (showForms, caseTeam…),
    and the lane-role suggestions are the vocabulary's lane roles."""
    page = qm.page
    qm.goto("/studio/accreditation/versions/1")
    expect(page.locator("#editor[data-ready=true]")).to_be_attached(timeout=20_000)
    expect(page.locator("#studio-roles option")).to_have_count(4)
    _select(page, "compliance_application")
    for name in ("showForms", "caseTeam", "staffOnlyVariables", "revokesMembershipIf", "shareVariables"):
        expect(page.locator(f"#prop-{name}")).to_be_visible()
    expect(page.locator("#prop-calledOnly")).to_have_count(0)  # read only on start events
    expect(page.locator("#prop-formJsonSchemaFilename")).to_have_count(1)  # drawn once, in its own section
    _set(page, "showForms", "eligibility_application.json")
    start = page.evaluate("() => window.studioModeler.get('elementRegistry')"
                          ".filter(e => e.type === 'bpmn:StartEvent')[0].id")
    _select(page, start)
    expect(page.locator("#prop-calledOnly")).to_be_visible()
    expect(page.locator("#prop-showForms")).to_have_count(0)
    xml = page.evaluate("async () => (await window.studioModeler.saveXML({format: true})).xml")
    found = _extensions(xml)
    task = {(t, a.get("name")): a.get("value", text) for t, a, text in found["compliance_application"]}
    assert task[("property", "showForms")] == "eligibility_application.json"
    qm.assert_no_errors()


def test_modelling_hints_point_at_an_unreachable_unnamed_task(qm, shipped_site):
    """A task dropped on the canvas and left unconnected: the engine accepts it, the studio hints at it."""
    page = qm.page
    qm.goto("/studio/accreditation/versions/1")
    expect(page.locator("#editor[data-ready=true]")).to_be_attached(timeout=20_000)
    loose = page.evaluate("""() => { const m = window.studioModeler;
        const lane = m.get('elementRegistry').get('Lane_coordinator');
        return m.get('modeling').createShape({type: 'bpmn:Task'}, {x: lane.x + 300, y: lane.y + lane.height / 2},
                                             lane.parent).id; }""")
    page.get_by_role("button", name="Validate").click()
    hints = page.locator(f'#problems button.problem.hint[data-element="{loose}"]')
    expect(hints).to_have_count(3)
    expect(hints.first).to_contain_text("Modelling hint")
    expect(page.locator("#validation-status")).to_contain_text("3 modelling hint(s)")
    expect(page.locator(f'#canvas .djs-element.studio-hint[data-element-id="{loose}"]')).to_have_count(1)
    qm.assert_no_errors()


def _without_the_application_task(xml: str) -> str:
    """membership.bpmn with its first user task removed: the flow into it now goes to the review."""
    from lxml import etree

    root = etree.fromstring(xml.encode("utf-8"))
    gone = {"membership_application", "Flow_membership_application_to_membership_review"}
    for node in list(root.iter()):
        if not isinstance(node.tag, str):
            continue
        if node.get("id") in gone or node.get("bpmnElement") in gone or (
                etree.QName(node).localname == "flowNodeRef" and node.text in gone):
            node.getparent().remove(node)
        elif node.get("id") == "Flow_merge_application_to_membership_application":
            node.set("targetRef", "membership_review")
        elif etree.QName(node).localname == "incoming" and node.text in gone:
            node.text = "Flow_merge_application_to_membership_application"
    return etree.tostring(root, encoding="unicode")


def test_dry_run_says_which_case_cannot_move_and_why_and_diff_marks_removed_elements(qm, shipped_site):
    """membership v2 drops the task a running case waits at: the case cannot move, the page says why and offers
    no checkbox for it; the diff marks the task removed on the old diagram."""
    from ..conftest import PROCESSES

    case = shipped_site.start("membership", business_key="STUDIO-BLOCKED-1")
    xml = _without_the_application_task((PROCESSES / "membership.bpmn").read_text())
    r = shipped_site.client("quality_manager").post("/api/process-definitions", json={
        "files": {"membership.bpmn": xml}, "note": "no application form any more"})
    assert r.status_code == 201, r.get_json()
    page = qm.page
    qm.goto("/studio/membership/versions/1/migrate")
    expect(page.locator("#migrate[data-ready=true]")).to_be_attached()
    page.get_by_role("button", name="Dry run").click()
    row = page.locator(f'#dry-run-table tr[data-case-id="{case["id"]}"]')
    expect(row).to_contain_text("Cannot move")
    expect(row).to_contain_text("does not exist in version 2")
    expect(row.locator("input[type=checkbox]")).to_be_disabled()
    expect(page.locator("#dry-run-summary")).to_contain_text("1 cannot")
    page.screenshot(path=SHOTS + "dry-run-blocked.png", full_page=True)

    qm.goto("/studio/membership/diff?from=1&to=2")
    expect(page.locator("#diff[data-ready=true]")).to_be_attached(timeout=20_000)
    expect(page.locator('#diff-list li.removed[data-element="membership_application"]')).to_be_visible()
    expect(page.locator('#from-canvas .djs-element.diff-removed[data-element-id="membership_application"]')) \
        .to_have_count(1)
    page.screenshot(path=SHOTS + "diff-removed.png", full_page=True)
    qm.assert_no_errors()
