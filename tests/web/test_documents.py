"""Files and talk in the browser, on the shipped library: the applicant completes the accreditation's
compliance application by uploading each document from the task page (the form field receives the file's
sha256), refusals of the upload are shown, comments are added on the case page, and the case list filters.
Screenshots go to /tmp/web2-*.png for a human look."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ..api.conftest import MAX_UPLOAD, PASSWORD, PDF

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not (ROOT / "processes" / "accreditation.bpmn").exists(),
                                reason="processes/accreditation.bpmn is not there yet")

NO_SESSION = "status of 401"
INVALID = "status of 422"
TOO_LARGE = "status of 413"

ELIGIBILITY = {"organisation_name": "Lab A Cell Therapy", "scope": ["collection", "processing"],
               "sites": [{"name": "Main", "address": "1 Lab Road, Leeds"}], "months_in_operation": 24,
               "membership_number": "M-0001", "membership_active": True}


def _pdf(name: str) -> bytes:
    return PDF.replace(b"%%EOF", f"% {name}\n%%EOF".encode())


def _do(site, who: str, case_id: str, element_id: str, data: dict) -> dict:
    client = site.client(who)
    tasks = client.get(f"/api/tasks?case_id={case_id}&per_page=200").get_json()["items"]
    mine = [t for t in tasks if t["element_id"] == element_id]
    assert len(mine) == 1, (who, element_id, [t["element_id"] for t in tasks])
    r = client.post(f"/api/tasks/{mine[0]['id']}/complete", json={"data": data})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _to_compliance(site, key: str) -> tuple[str, str]:
    """An accreditation case at compliance_application: (case id, task id)."""
    case = site.start("accreditation", business_key=key)
    _do(site, "applicant", case["id"], "eligibility_application", ELIGIBILITY)
    _do(site, "coordinator", case["id"], "eligibility_review",
        {"eligibility_decision": "approve", "eligibility_comment": "Member in good standing"})
    tasks = [t for t in site.case(case["id"], who="applicant")["tasks"] if t["element_id"] == "compliance_application"]
    assert len(tasks) == 1
    return case["id"], tasks[0]["id"]


def _file(name: str, content: bytes, mime: str = "application/pdf") -> dict:
    return {"name": name, "mimeType": mime, "buffer": content}


def test_the_applicant_completes_the_compliance_application_with_uploaded_documents(web, shipped_site):
    site = shipped_site
    case_id, task_id = _to_compliance(site, "WEB2-ACC-1")
    web.sign_in("applicant", path=f"/tasks/{task_id}")
    page = web.page
    expect(page.locator("#task-title")).to_have_text("Submit compliance application")
    expect(page.get_by_label("Sign (authorship)")).to_be_visible()
    rows = page.locator('[data-schemapath^="root.documents."][data-schematype="object"]')
    expect(rows).to_have_count(3)  # minItems: 3

    # a refused upload: the server's detail next to the field, and the field stays empty
    picker = page.locator('.attachment[data-path="root.documents.0.attachment_id"] input[type=file]')
    sha_input = page.locator('[name="root[documents][0][attachment_id]"]')
    picker.set_input_files(_file("notes.bin", b"just bytes", "application/octet-stream"))
    error = page.locator('.attachment[data-path="root.documents.0.attachment_id"] .upload-error')
    expect(error).to_contain_text("notes.bin: files of type 'application/octet-stream' are not accepted")
    expect(sha_input).to_have_value("")
    big = b"%PDF-1.4\n" + b"0" * (MAX_UPLOAD + 10_000)  # over MAX_UPLOAD_BYTES, under the 413 margin
    picker.set_input_files(_file("big.pdf", big))
    expect(error).to_contain_text(re.compile(rf"big\.pdf: file is larger than .*{MAX_UPLOAD} bytes"))
    huge = b"%PDF-1.4\n" + b"0" * (MAX_UPLOAD + 200_000)  # over the limit plus 64 KiB: 413 (or the cut)
    picker.set_input_files(_file("huge.pdf", huge))
    expect(error).to_contain_text(re.compile(r"huge\.pdf: .*(exceeds the capacity limit|too large)"))
    expect(sha_input).to_have_value("")
    page.screenshot(path="/tmp/web2-upload-refused.png", full_page=True)

    kinds = ("sop", "qms_manual", "staff_qualification")
    for i, kind in enumerate(kinds):
        path = f"root.documents.{i}.attachment_id"
        page.locator(f'.attachment[data-path="{path}"] input[type=file]').set_input_files(
            _file(f"{kind}.pdf", _pdf(kind)))
        expect(page.locator(f'.attachment[data-path="{path}"] .attachment-link')).to_have_text(f"{kind}.pdf")
        expect(page.locator(f'[name="root[documents][{i}][attachment_id]"]')).to_have_value(re.compile("^[0-9a-f]{64}$"))
        expect(page.locator(f'.attachment[data-path="{path}"]')).to_contain_text(re.compile(r"\(\d+ (B|KB)\)"))
        expect(page.locator(f'[name="root[documents][{i}][attachment_id]"]')).to_have_attribute("type", "hidden")
        if i == 0:  # a wrong file is removed, then the right one chosen
            page.locator(f'.attachment[data-path="{path}"]').get_by_role("button", name=re.compile("Remove file")).click()
            expect(page.locator(f'[name="root[documents][0][attachment_id]"]')).to_have_value("")
            expect(page.locator(f'.attachment[data-path="{path}"]')).to_contain_text("No file uploaded yet.")
            page.locator(f'.attachment[data-path="{path}"] input[type=file]').set_input_files(
                _file(f"{kind}.pdf", _pdf(kind)))
            expect(page.locator(f'.attachment[data-path="{path}"] .attachment-link')).to_have_text(f"{kind}.pdf")
        page.locator(f'[name="root[documents][{i}][document_type]"]').select_option(kind)
        page.locator(f'[name="root[documents][{i}][title]"]').fill(f"Our {kind.replace('_', ' ')}")
        page.locator(f'[name="root[documents][{i}][standard]"]').fill("B4.1")
    expect(error).to_be_hidden()  # the last attempt on the first row succeeded
    page.locator('[name="root[director_signature][name]"]').fill("Dr Alice Director")
    page.locator('[name="root[director_signature][signed]"]').check()  # a checkbox, not a select
    page.get_by_label("Sign (authorship)").fill(PASSWORD)
    page.screenshot(path="/tmp/web2-compliance.png", full_page=True)

    # the download link serves the uploaded file
    link = page.locator('.attachment[data-path="root.documents.1.attachment_id"] .attachment-link')
    with page.expect_download() as download:
        link.click()
    assert Path(download.value.path()).read_bytes() == _pdf("qms_manual")

    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#notice")).to_contain_text('Completed "Submit compliance application" (case WEB2-ACC-1)')
    case = site.case(case_id)
    assert [t["element_id"] for t in case["tasks"]] == ["desk_review"]
    files = site.client("coordinator").get(f"/api/cases/{case_id}/attachments").get_json()
    assert sorted(f["filename"] for f in files) == ["qms_manual.pdf", "sop.pdf", "staff_qualification.pdf"]
    documents = case["data"]["documents"]
    assert {d["attachment_id"] for d in documents} == {f["sha256"] for f in files}
    web.assert_no_errors(allow=(NO_SESSION, INVALID, TOO_LARGE))


def test_the_case_page_lists_documents_and_comments_and_adds_a_comment(web, shipped_site):
    site = shipped_site
    case_id, _ = _to_compliance(site, "WEB2-ACC-2")
    r = site.client("applicant").post(f"/api/cases/{case_id}/attachments",
                                      data={"file": (io.BytesIO(_pdf("sop-12")), "sop-12.pdf", "application/pdf")},
                                      content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    sha = r.get_json()["sha256"]
    r = site.client("coordinator").post(f"/api/cases/{case_id}/comments", json={"body": "Please add the QMS manual."})
    assert r.status_code == 201, r.get_json()

    web.sign_in("applicant", path=f"/cases/{case_id}")
    page = web.page
    expect(page.locator("#case-title")).to_have_text("Case WEB2-ACC-2")
    row = page.locator(f'#attachments tr[data-sha256="{sha}"]')
    expect(row).to_contain_text("sop-12.pdf")
    expect(row).to_contain_text("application/pdf")
    expect(row).to_contain_text("B")  # size
    expect(row).to_contain_text("alice")
    with page.expect_download() as download:
        row.get_by_role("link", name="sop-12.pdf").click()
    assert Path(download.value.path()).read_bytes() == _pdf("sop-12")
    comments = page.locator("#comments li")
    expect(comments).to_have_count(1)
    expect(comments.first).to_contain_text("carol")
    expect(comments.first).to_contain_text("Please add the QMS manual.")
    expect(comments.first).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"))

    page.get_by_role("button", name="Add comment").click()  # empty: the server's 422
    expect(page.locator("#comment-error")).to_contain_text(re.compile(r"The comment: .*1 (and|to) 10000"))  # in words, no JSON pointer
    expect(page.get_by_label("Add a comment")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Add a comment").fill("Uploaded.\nThe QMS manual follows <b>tomorrow</b>.")
    page.get_by_role("button", name="Add comment").click()
    expect(comments).to_have_count(2)
    expect(comments.nth(1)).to_contain_text("The QMS manual follows <b>tomorrow</b>.")  # text, never HTML
    expect(comments.nth(1)).to_contain_text("alice")
    expect(page.locator("#comment-error")).to_be_hidden()
    expect(page.get_by_label("Add a comment")).to_have_value("")
    page.screenshot(path="/tmp/web2-case.png", full_page=True)
    via_api = site.client("coordinator").get(f"/api/cases/{case_id}/comments").get_json()
    assert [(c["author"], c["body"]) for c in via_api] == [
        ("carol", "Please add the QMS manual."), ("alice", "Uploaded.\nThe QMS manual follows <b>tomorrow</b>.")]
    web.assert_no_errors(allow=(NO_SESSION, INVALID))


def test_the_case_list_filters_by_status_and_searches_the_business_key(web, site):
    running = site.start("two_step", business_key="WEB2-LIST-RUN")
    done = site.start("two_step", business_key="WEB2-LIST-DONE")
    r = site.client("applicant").post(f"/api/tasks/{done['tasks'][0]['id']}/complete", json={"data": {"answer": "no"}})
    assert r.status_code == 200 and r.get_json()["status"] == "completed", r.get_json()
    site.start("two_step", business_key="WEB2-OTHER")

    web.sign_in("coordinator")
    page = web.page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    expect(page).to_have_url(site.base_url + "/cases")
    expect(page.locator("#case-list tbody tr").first).to_be_visible()
    page.get_by_label("Business key contains").fill("WEB2-LIST")
    rows = page.locator("#case-list tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#cases-count")).to_have_text("2 cases match, newest first.")
    page.get_by_label("Status").select_option("completed")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("WEB2-LIST-DONE")
    expect(rows.first).to_contain_text("completed")
    expect(rows.first).to_contain_text("end_no")
    expect(page).to_have_url(re.compile(r"/cases\?status=completed&q=WEB2-LIST$"))
    page.screenshot(path="/tmp/web2-cases.png", full_page=True)
    page.get_by_label("Status").select_option("running")
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-case-id="{running["id"]}"]')).to_be_visible()
    page.get_by_label("Business key contains").fill("no-such-key")
    expect(page.locator("#cases-empty")).to_be_visible()
    page.get_by_label("Business key contains").fill("WEB2-LIST-R")
    page.get_by_role("link", name="WEB2-LIST-RUN").click()
    expect(page.locator("#case-title")).to_have_text("Case WEB2-LIST-RUN")
    expect(page.locator("#attachments-empty")).to_be_visible()
    expect(page.locator("#comments-empty")).to_be_visible()
    page.go_back()  # the filters survive in the address
    expect(page.get_by_label("Status")).to_have_value("running")
    expect(page.get_by_label("Business key contains")).to_have_value("WEB2-LIST-R")
    expect(rows).to_have_count(1)
    web.assert_no_errors(allow=(NO_SESSION,))
