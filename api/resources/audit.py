"""The audit trail of a case: history (filtered, paginated), per-element view, verification of the hash
chain, signatures, and exports (CSV, JSON, PDF record). Read-only; whoever may see the case may read it
(auditors see every case)."""
from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from flask import Response, request
from flask_smorest import Blueprint

from engine.reports.audit import Audit

from ..auth import current_actor, services
from ..schemas import (
    ElementStateSchema,
    EventSchema,
    ExportQuerySchema,
    HistoryQuerySchema,
    SignatureRecordSchema,
    VerificationSchema,
)

blp = Blueprint("audit", __name__, url_prefix="/api/cases", description="Audit trail: history, verification, "
                                                                        "signatures, exports")


def _audit() -> Audit:
    svc = services()
    return Audit(svc.db, svc.identity, svc.engine)


@blp.get("/<case_id>/history")
@blp.arguments(HistoryQuerySchema, location="query")
@blp.response(200, EventSchema(many=True), headers={
    "X-Total-Count": {"description": "events matching the filters", "schema": {"type": "integer"}},
    "X-Pagination": {"description": "JSON: total, page, per_page, total_pages", "schema": {"type": "string"}}})
def case_history(args, case_id):
    """Everything that happened in the case, in order (seq), each event with its hash chain. Filters:
    action (comma-separated; `task.*` for a prefix), actor (username), element_id, since / until (UTC).
    Paginated with page / per_page (default 500); the total is in `X-Total-Count` and `X-Pagination`."""
    page = _audit().history(current_actor(), case_id, action=args.get("action"), user=args.get("actor"),
                            element_id=args.get("element_id"), since=args.get("since"), until=args.get("until"),
                            page=args["page"], per_page=args["per_page"])
    pages = max(1, -(-page.total // page.per_page))
    headers = {"X-Total-Count": str(page.total),
               "X-Pagination": json.dumps({"total": page.total, "page": page.page, "per_page": page.per_page,
                                           "total_pages": pages})}
    links = []
    for rel, number in (("next", page.page + 1), ("prev", page.page - 1)):
        if 1 <= number <= pages:
            query = {**request.args.to_dict(), "page": number}
            links.append(f'<{request.base_url}?{urlencode(query)}>; rel="{rel}"')
    if links:
        headers["Link"] = ", ".join(links)
    return page.items, 200, headers


@blp.get("/<case_id>/history/elements")
@blp.response(200, ElementStateSchema(many=True))
def case_elements(case_id):
    """Per BPMN element (the diagram overlay): active / completed / cancelled / error, how often and when it
    completed, and by whom."""
    return _audit().elements(current_actor(), case_id)


@blp.get("/<case_id>/history/verify")
@blp.response(200, VerificationSchema)
def verify(case_id):
    """Recompute the case's hash chain: `ok`, events `checked`, the `first_broken` link (seq and reason) and
    the `head` (last seq and hash) to compare with a later verification."""
    return _audit().verify(current_actor(), case_id)


@blp.get("/<case_id>/signatures")
@blp.response(200, SignatureRecordSchema(many=True))
def signatures(case_id):
    """The electronic signatures of the case: printed name, username, UTC time, meaning, and the SHA-256 of
    the signed data with a check that it still matches (`binding_ok`)."""
    return _audit().signatures(current_actor(), case_id)


@blp.get("/<case_id>/history/export")
@blp.arguments(ExportQuerySchema, location="query")
@blp.response(200, description="the history as a file (text/csv or application/json)")
def export(args, case_id):
    """The full history as `format=csv` or `format=json` (JSON: case summary, verification result,
    signatures, every event with its hashes). The export is recorded as a system event."""
    content, mimetype, filename = _audit().export(current_actor(), case_id, args["format"])
    return _download(content, mimetype, filename)


@blp.get("/<case_id>/record.pdf")
@blp.response(200, description="application/pdf")
def record_pdf(case_id):
    """The human-readable case record: summary, verification of the audit trail, signatures, decisions and
    the full timeline. Recorded as a system event."""
    content, filename = _audit().pdf(current_actor(), case_id)
    return _download(content, "application/pdf", filename)


def _download(content: bytes, mimetype: str, filename: str) -> Response:
    response = Response(content, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII ``filename`` for every client, plus ``filename*`` (RFC 8187, UTF-8) when the real
    name is not plain ASCII — a business key in any script downloads under its own name, and no header
    ever carries a character HTTP cannot send."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in filename) or "download"
    if fallback == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
