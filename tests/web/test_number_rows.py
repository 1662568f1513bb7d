"""Numbers are never pre-filled (issue 9, item 4) — also in rows added later to a list of objects, whether
the list is rendered as a table or as a list: a new row's number fields start empty, and a row left empty
sends no number nobody gave."""
from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from ..engine.bpmn_builder import flow, process, user_task

FORM = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "title": "Samples",
        "additionalProperties": False,
        "properties": {
            "note": {"type": "string", "title": "Note"},
            "rows": {"type": "array", "title": "Samples (table)", "format": "table",
                     "items": {"type": "object", "title": "Sample", "additionalProperties": False,
                               "required": ["label", "count"],
                               "properties": {"label": {"type": "string", "title": "Label"},
                                              "count": {"type": "integer", "title": "Count", "minimum": 0},
                                              "weight": {"type": "number", "title": "Weight"}}}},
            "items": {"type": "array", "title": "Samples (list)",
                      "items": {"type": "object", "title": "Item", "additionalProperties": False, "required": ["count"],
                                "properties": {"label": {"type": "string", "title": "Label"},
                                               "count": {"type": "integer", "title": "Count"}}}}}}


@pytest.fixture(scope="module")
def samples(site):
    body = ('<bpmn:startEvent id="start"/>' + user_task("record", "Record samples", "samples.json")
            + '<bpmn:endEvent id="end"/>' + flow("f1", "start", "record") + flow("f2", "record", "end"))
    site.services.engine.deploy({"samples.bpmn": process("samples", {"applicant": ["start", "record", "end"]}, body),
                                 "samples.json": json.dumps(FORM)}, deployed_by="tests")
    return site


def test_numbers_in_rows_added_later_start_empty(web, samples):
    case = samples.start("samples", business_key="WEB-ROWS-1")
    task_id = case["tasks"][0]["id"]
    web.sign_in("applicant", path=f"/tasks/{task_id}")
    page = web.page
    expect(page.locator("#task-title")).to_have_text("Record samples")
    for list_title, fields in (("Samples (table)", ("count", "weight")), ("Samples (list)", ("count",))):
        key = "rows" if "table" in list_title else "items"
        holder = page.locator(f'[data-schemapath="root.{key}"]')
        add = holder.locator("button.json-editor-btn-add:visible").first
        add.click()
        add.click()
        for row in (0, 1):
            for field in fields:
                box = page.locator(f'[name="root[{key}][{row}][{field}]"]')
                expect(box).to_be_visible()
                expect(box).to_have_value("")
    # a typed number is kept; a required number left empty is refused by the server, never sent as 0
    page.locator('[name="root[rows][0][label]"]').fill("A")
    page.locator('[name="root[rows][0][count]"]').fill("3")
    page.locator('[name="root[rows][1][label]"]').fill("B")
    page.locator('[name="root[items][0][count]"]').fill("1")
    page.locator('[name="root[items][1][count]"]').fill("2")
    page.locator('[name="root[note]"]').fill("done")  # another change: the rows keep what was typed
    expect(page.locator('[name="root[rows][0][count]"]')).to_have_value("3")
    expect(page.locator('[name="root[rows][1][count]"]')).to_have_value("")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("alert").filter(has_text="Count: is required").first).to_be_visible()
    assert samples.task(task_id)["status"] == "ready"
    page.locator('[name="root[rows][1][count]"]').fill("5")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#notice")).to_contain_text("Completed")
    submitted = next(e for e in samples.client("coordinator").get(f"/api/cases/{case['id']}/history").get_json()
                     if e["action"] == "task.completed")["data"]["submitted"]
    # the weights nobody typed are absent
    assert submitted["rows"] == [{"label": "A", "count": 3}, {"label": "B", "count": 5}]
    assert submitted["items"] == [{"count": 1}, {"count": 2}]
    web.assert_no_errors(allow=("422",))
