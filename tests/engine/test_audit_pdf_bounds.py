"""The PDF record costs time in proportion to the case, not to the square of one value: laying out a cell
costs more than its length, so every value printed is capped (outcomes and data at MAX_DETAIL characters, any
cell at MAX_TEXT); the JSON export keeps everything."""
from __future__ import annotations

import json
import time

from engine.reports.audit import Audit
from engine.reports.audit_pdf import MAX_DETAIL, render

from .bpmn_builder import two_step
from .test_audit_pdf import _event, _pages, _record


def test_a_case_holding_one_huge_value_renders_quickly_and_the_json_export_keeps_it(engine, actors, db):
    engine.deploy(two_step(script="big = list(range(900000))&#10;note = 'x ' * 200000"))
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    audit = Audit(db)
    began = time.monotonic()
    content, _name = audit.pdf(actors["auditor"], case.id)
    assert time.monotonic() - began < 20  # before: a 30,000-item list alone took 24 s, 900,000 never ended
    text = " ".join(" ".join(_pages(content)).split())
    assert "more characters: see the JSON export" in text
    exported = json.loads(audit.export(actors["auditor"], case.id, "json")[0])
    assert exported["case"]["outcomes"]["big"]["value"][-1] == 899999


def test_every_printed_value_is_capped():
    outcomes = {"big": {"value": list(range(100000)), "element_id": "s", "seq": 2, "at": "2027"},
                "long": {"value": "y" * 100000, "element_id": "s", "seq": 2, "at": "2027"}}
    record = _record([_event(1, data={"submitted": {"blob": list(range(50000))}, "reason": "z " * 60000,
                                      "changes": {"blob": {"old": None, "new": list(range(50000))}}})])
    record["case"]["outcomes"] = outcomes
    began = time.monotonic()
    text = " ".join(" ".join(_pages(render(record))).split())
    assert time.monotonic() - began < 20
    # the outcomes (2), the submitted data, the reason in the decisions, the timeline's details
    assert text.count("more characters: see the JSON export") >= 5, text.count("more characters")
    assert "y" * (MAX_DETAIL + 10) not in text.replace(" ", "")
