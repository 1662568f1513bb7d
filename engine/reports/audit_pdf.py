"""The human-readable case record (PDF, reportlab): case summary, the verification of the audit trail,
electronic signatures, decisions with their reasons, and the full timeline with old and new values.

Input is :meth:`engine.reports.audit.Audit.record` — the same data as the JSON export, so both always agree.
"""
from __future__ import annotations

import io
import json
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

_STYLES = getSampleStyleSheet()
#: headings stay on the page of what they head (never alone at a page foot)
_H1 = _STYLES["Title"].clone("record-title", keepWithNext=1)
_H2 = _STYLES["Heading2"].clone("record-heading", keepWithNext=1)
_CELL = _STYLES["BodyText"].clone("cell", fontSize=7.5, leading=9)
_HEAD = _STYLES["BodyText"].clone("head", fontSize=7.5, leading=9, fontName="Helvetica-Bold")
_GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8"))])
#: characters printed of a value (an outcome, submitted data) or of an event's details (the JSON export has all)
MAX_DETAIL = 1500
#: characters printed of any one cell (a person's reason): laying out a paragraph costs more than its length
#: (a 40,000-character cell takes seconds), so no cell may be unbounded
MAX_TEXT = 20_000


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f" [... {len(text) - limit:,} more characters: see the JSON export]"


def _p(text, style=_CELL) -> Paragraph:
    return Paragraph(escape(_clip("" if text is None else str(text), MAX_TEXT)).replace("\n", "<br/>"), style)


def _table(header: list[str] | None, rows: list[list], widths: list[float]) -> Table:
    data = [[_p(h, _HEAD) for h in header]] if header else []
    data += [[c if isinstance(c, Paragraph) else _p(c) for c in r] for r in rows]
    # splitInRow: a row taller than a page (a long reason, a list of 40 documents) continues on the next
    # page instead of failing the whole export
    table = Table(data, colWidths=widths, repeatRows=1 if header else 0, splitByRow=1, splitInRow=1)
    table.setStyle(_GRID if header else TableStyle(_GRID.getCommands()[:2]))
    return table


def _compact(value) -> str:
    """A value as compact JSON, at most :data:`MAX_DETAIL` characters of it."""
    return _clip(json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": ")), MAX_DETAIL)


def _details(e: dict) -> str:
    data = e.get("data")
    if not isinstance(data, dict):
        return "" if data is None else _compact(data)
    parts = []
    if e["action"] == "task.completed":
        for field, change in sorted((data.get("changes") or {}).items()):
            parts.append(f"{field}: {_compact(change.get('old'))} -> {_compact(change.get('new'))}")
        if data.get("reason"):
            parts.append(f"reason: {data['reason']}")
        sig = data.get("signature")
        if sig:
            parts.append(f"SIGNED ({sig['meaning']}) by {sig['printed_name']} at {sig['signed_at']}")
    else:
        parts.append(_compact(data))
    return _clip("\n".join(parts), MAX_DETAIL)


def render(record: dict) -> bytes:
    case, verification = record["case"], record["verification"]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                            topMargin=12 * mm, bottomMargin=12 * mm,
                            title=f"Case record {case['business_key']}", author="accredit")
    width = doc.width
    h1, h2, body = _H1, _H2, _STYLES["BodyText"]
    story = [Paragraph(escape(f"Case record: {case['business_key']}"), h1)]

    summary = [["Business key", case["business_key"]], ["Case id", case["id"]],
               ["Process", f"{case['process_name'] or case['process_key']} ({case['process_key']} "
                           f"v{case['definition_version']})"],
               ["Organisation", case["organisation_id"] or "-"],
               ["Status", f"{case['status']}" + (f" ({case['outcome']})" if case["outcome"] else "")],
               ["Started", f"{case['created_at']} by {case['started_by']}"], ["Ended", case["ended_at"] or "-"],
               ["Parent case", case["parent_case_id"] or "-"],
               ["Record generated", f"{record['exported_at']} by {record['exported_by']}"]]
    waiting = case.get("waiting_for") or []
    if case["status"] == "running":
        summary.insert(5, ["Waiting for", "; ".join(
            f"{w['name']} ({w['kind']}" + (f", due {w['due_at']})" if w.get("due_at") else ")") for w in waiting)
            or "-"])
    story += [Paragraph("Case summary", h2), _table(None, [[_p(k, _HEAD), v] for k, v in summary],
                                                            [45 * mm, width - 45 * mm])]

    story.append(Paragraph("Outcomes computed by the engine", h2))
    outcomes = case.get("outcomes") or {}
    if outcomes:
        rows = [[name, _compact(o["value"]) if not isinstance(o["value"], str) else _clip(o["value"], MAX_DETAIL),
                 (o.get("element_name") or o.get("element_id") or "") + f" (seq {o.get('seq')})", o.get("at") or ""]
                for name, o in outcomes.items()]
        story.append(_table(["Value", "Result", "Set by step", "At (UTC)"], rows,
                            [50 * mm, width - 160 * mm, 70 * mm, 40 * mm]))
    else:
        story.append(Paragraph("No values computed yet.", body))

    head = verification.get("head") or {}
    if verification["ok"]:
        verdict = (f"VERIFIED: the hash chain of {verification['checked']} events is intact "
                   f"(last event seq {head.get('seq', '-')}, SHA-256 {head.get('hash', '-')}).")
    else:
        broken = verification["first_broken"]
        verdict = (f"BROKEN: the audit trail fails verification at seq {broken['seq']}: {broken['reason']} "
                   f"({verification['checked']} events checked).")
    story += [Paragraph("Audit trail verification", h2), Paragraph(escape(verdict), body)]

    story.append(Paragraph("Electronic signatures", h2))
    sigs = record["signatures"]
    if sigs:
        rows = [[s["element_name"] or s["element_id"], s["meaning"], f"{s['printed_name']} ({s['username']})",
                 s["signed_at"], s["method"], s["data_sha256"], "yes" if s["binding_ok"] else "NO"] for s in sigs]
        story.append(_table(["Step", "Meaning", "Signed by", "Signed at (UTC)", "Method", "SHA-256 of signed data",
                             "Binding intact"], rows,
                            [45 * mm, 20 * mm, 50 * mm, 42 * mm, 16 * mm, width - 195 * mm, 22 * mm]))
    else:
        story.append(Paragraph("No electronic signatures in this case.", body))

    decisions = [e for e in record["events"] if e["action"] == "task.completed"
                 and isinstance(e.get("data"), dict) and (e["data"].get("reason") or e["data"].get("signature"))]
    story.append(Paragraph("Decisions", h2))
    if decisions:
        rows = []
        for e in decisions:
            sig = e["data"].get("signature")
            rows.append([e["element_name"] or e["element_id"], f"{e['actor_name']} ({e['actor']}, {e['role']})",
                         e["occurred_at"], _compact(e["data"].get("submitted")), e["data"].get("reason") or "",
                         f"{sig['meaning']} by {sig['printed_name']}" if sig else ""])
        story.append(_table(["Step", "By", "At (UTC)", "Submitted", "Reason", "Signature"], rows,
                            [40 * mm, 45 * mm, 38 * mm, width - 213 * mm, 50 * mm, 40 * mm]))
    else:
        story.append(Paragraph("No decisions recorded yet.", body))

    story.append(Paragraph("Timeline", h2))
    rows = [[e["seq"], e["occurred_at"], f"{e['actor_name'] or e['actor']} ({e['actor']}"
             + (f", {e['role']})" if e["role"] else ")"), e["action"],
             (e["element_name"] or e["element_id"] or "") + (f" [{e['element_id']}]" if e["element_id"] else ""),
             _details(e), (e.get("hash") or "")[:16]] for e in record["events"]]
    story.append(_table(["Seq", "At (UTC)", "Who", "Action", "Element", "Details (old -> new, reason, signature)",
                         "Hash"], rows,
                        [10 * mm, 38 * mm, 45 * mm, 33 * mm, 45 * mm, width - 201 * mm, 30 * mm]))

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.drawString(12 * mm, 6 * mm, f"{case['business_key']} - case record generated {record['exported_at']}"
                                           f" - chain {'verified' if verification['ok'] else 'BROKEN'}")
        canvas.drawRightString(document.pagesize[0] - 12 * mm, 6 * mm, f"page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
