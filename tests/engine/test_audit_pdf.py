"""The PDF record renders any case: cells longer than a page split across pages, a case with 40 documents
renders, long unbroken tokens wrap, and no section heading is left alone at the foot of a page."""
from __future__ import annotations

import io

import pytest

from engine.reports.audit_pdf import render

HEADINGS = ("Case summary", "Outcomes computed by the engine", "Audit trail verification", "Electronic signatures",
            "Decisions", "Timeline")


def _event(seq, action="task.completed", data=None, element="review"):
    return {"seq": seq, "occurred_at": "2027-01-04T09:00:00+00:00", "actor": "carol", "actor_name": "Carol",
            "role": "coordinator", "action": action, "element_id": element, "element_name": "Review",
            "element_type": "UserTask", "task_id": "t", "data": data, "prev_hash": None, "hash": "ab" * 32}


def _signature(i):
    return {"seq": i, "task_id": "t", "role": "committee", "event_hash": "cd" * 32, "binding_ok": True,
            "element_id": "decide", "element_name": "Decide", "meaning": "approval", "printed_name": f"Member {i}",
            "username": f"m{i}", "signed_at": "2027-01-04T09:00:00Z", "method": "password", "data_sha256": "ef" * 32}


def _record(events, signatures=(), key="CASE-1"):
    return {"case": {"id": "c1", "business_key": key, "process_key": "p", "process_name": "P",
                     "definition_version": 1, "organisation_id": "lab-a", "status": "running", "outcome": None,
                     "parent_case_id": None, "started_by": "alice", "created_at": "2027-01-04T09:00:00+00:00",
                     "ended_at": None, "outcomes": {}, "waiting_for": []},
            "verification": {"ok": True, "checked": len(events), "first_broken": None,
                             "head": {"seq": 1, "hash": "ab" * 32}},
            "signatures": list(signatures), "events": events, "exported_at": "2027-01-04T10:00:00Z",
            "exported_by": "audrey"}


def _pages(content: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages]


def test_a_cell_longer_than_a_page_splits_across_pages():
    reason = "\n".join(f"line {i} of a very long justification" for i in range(400))
    pages = _pages(render(_record([_event(1, data={"submitted": {"x": 1}, "changes": {}, "reason": reason})])))
    assert len(pages) > 3
    text = "\n".join(pages)
    assert "line 0 of" in text and "line 399 of" in text


def test_a_case_with_40_documents_renders():
    documents = [{"sha256": f"{i:064x}", "filename": f"SOP-{i:03d} quality manual section {i}.pdf",
                  "content_type": "application/pdf", "size": 123456} for i in range(40)]
    events = [_event(1, data={"submitted": {"documents": documents}, "reason": "all documents attached",
                              "changes": {"documents": {"old": None, "new": documents}}})]
    events += [_event(i + 2, "attachment.uploaded", {"filename": d["filename"], "sha256": d["sha256"]})
               for i, d in enumerate(documents)]
    text = "\n".join(_pages(render(_record(events))))
    assert "SOP-039" in text


def test_long_unbroken_tokens_wrap():
    token = "X" * 6000
    content = render(_record([_event(1, data={"submitted": {"blob": token}, "reason": token, "changes": {}})],
                             key="K" * 300))
    assert content.startswith(b"%PDF-")


@pytest.mark.parametrize("start", [0, 10, 20])
def test_no_heading_is_left_alone_at_a_page_foot(start):
    """Push the sections down a row at a time: whatever the page break, a heading is followed on its page
    by what it heads."""
    for n in range(start, start + 10):
        events = [_event(i + 1, data={"submitted": {"a": i}, "reason": f"reason {i}", "changes": {}})
                  for i in range(n)]
        for number, page in enumerate(_pages(render(_record(events, [_signature(i) for i in range(n)])))):
            lines = [ln.strip() for ln in page.splitlines() if ln.strip()]
            body = [ln for ln in lines if "case record generated" not in ln and not ln.startswith("page ")]
            assert body and body[-1] not in HEADINGS, (n, number, body[-3:])
