"""The accreditation cycle split into called phase processes: each diagram readable on a laptop screen, the
tasks of the single diagram kept (ids, lanes, forms, properties), the rules in DMN tables a quality manager
edits — and a case started on the single diagram before the split still finishes on its own version."""
from __future__ import annotations

from datetime import timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from engine.definitions.bundles import read_directories
from engine.definitions.library import load_library

from ..conftest import FORMS, PROCESSES
from .test_accreditation import awarded, to_committee, to_desk_review

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "accreditation_v1"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
PHASES = {"eligibility_phase": "accreditation_eligibility", "desk_review_phase": "accreditation_desk_review",
          "inspection_phase": "accreditation_inspection", "decision_phase": "accreditation_decision",
          "corrections_phase": "accreditation_corrections", "maintenance_phase": "accreditation_maintenance"}
FLOW_NODES = ("task", "userTask", "scriptTask", "businessRuleTask", "callActivity", "subProcess", "startEvent",
              "endEvent", "boundaryEvent", "intermediateCatchEvent", "intermediateThrowEvent", "exclusiveGateway",
              "parallelGateway")


def _process(path: Path):
    root = etree.parse(str(path)).getroot()
    return root, root.find(f"{BPMN}process")


def _flow_nodes(process) -> list:
    return [e for e in process.iter() if isinstance(e.tag, str) and etree.QName(e).localname in FLOW_NODES]


def _user_tasks(files: dict[str, str]) -> dict[str, dict]:
    """{element id: lane, form and properties} of every user task of a bundle, over all its processes."""
    lib = load_library(files)
    assert lib.ok, [str(p) for p in lib.errors]
    out = {}
    for pv in lib.processes.values():
        for spec in [pv.spec, *pv.subprocess_specs.values()]:
            for ts in spec.task_specs.values():
                if getattr(ts, "manual", False):
                    props = (ts.extensions or {}).get("properties", {})
                    out[ts.bpmn_id] = {"lane": ts.lane, "name": ts.bpmn_name, "properties": dict(props)}
    return out


NEW_DMN = ("deadlines.dmn", "accreditation_terms.dmn")


def _v1_bundle() -> dict[str, str]:
    """The library as it was before the split: the fixture diagrams over the shipped files, without the new ones."""
    files = {n: t for n, t in read_directories(PROCESSES, FORMS).items()
             if not (n.startswith("accreditation_") and n.endswith(".bpmn")) and n not in NEW_DMN}
    files.update({p.name: p.read_text() for p in V1.glob("*.bpmn")})
    return files



def test_every_phase_diagram_fits_a_laptop_screen():
    _, top = _process(PROCESSES / "accreditation.bpmn")
    calls = {c.get("id"): c.get("calledElement") for c in top.iter(f"{BPMN}callActivity")}
    assert calls == PHASES  # the top level shows the phases
    for key in ["accreditation", *PHASES.values()]:
        root, process = _process(PROCESSES / f"{key}.bpmn")
        nodes = _flow_nodes(process)
        assert len(nodes) <= (25 if key == "accreditation" else 20), (key, len(nodes))
        [pool] = [s for s in root.iter("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape")
                  if s.get("bpmnElement", "").startswith("Participant_")]
        bounds = pool.find(f"{DC}Bounds")
        assert float(bounds.get("width")) <= 1400 and float(bounds.get("height")) <= 800, key
        # every flow node is drawn inside the pool
        right = float(bounds.get("x")) + float(bounds.get("width"))
        for shape in root.iter("{http://www.omg.org/spec/BPMN/20100524/DI}BPMNShape"):
            b = shape.find(f"{DC}Bounds")
            assert float(b.get("x")) + float(b.get("width")) <= right + 1, (key, shape.get("bpmnElement"))
    # the single diagram was not readable: this is what the split is for
    _, old = _process(V1 / "accreditation.bpmn")
    assert len(_flow_nodes(old)) > 80


def test_the_split_keeps_every_user_task_with_its_lane_form_and_properties():
    before, after = _user_tasks(_v1_bundle()), _user_tasks(read_directories(PROCESSES, FORMS))
    assert set(before) <= set(after)
    for element_id, task in before.items():
        assert after[element_id] == task, element_id


def test_no_timer_holds_a_literal_period_the_rules_are_in_dmn_tables():
    literals = []
    for path in sorted(PROCESSES.glob("*.bpmn")):
        for node in etree.parse(str(path)).getroot().iter(f"{BPMN}timeDuration", f"{BPMN}timeDate",
                                                          f"{BPMN}timeCycle"):
            if (node.text or "").strip().startswith('"'):
                literals.append((path.name, node.getparent().getparent().get("id"), node.text))
    assert literals == []
    award = next(e for e in _process(PROCESSES / "accreditation.bpmn")[1].iter(f"{BPMN}scriptTask")
                 if e.get("id") == "award").find(f"{BPMN}script").text
    for literal in ("36", '"ACC-"', "[:8]", "= 6"):
        assert literal not in award


def _edited(files: dict[str, str], name: str, old: str, new: str) -> dict[str, str]:
    assert files[name].count(old) == 1, (name, old)
    return {**files, name: files[name].replace(old, new)}


def test_a_quality_manager_changes_a_deadline_and_the_certificate_format_in_the_dmn_tables(drive):
    files = read_directories(PROCESSES, FORMS)
    entry = '<outputEntry id="OutputEntry_deadlines_1_rfi_escalation_after">\n          <text>'
    files = _edited(files, "deadlines.dmn", entry + '"P30D"', entry + '"P40D"')
    files = _edited(files, "accreditation_terms.dmn", '<text>"ACC-"</text>', '<text>"LAB-"</text>')
    files = _edited(files, "accreditation_terms.dmn", "<text>36</text>", "<text>24</text>")
    drive.engine.deploy(files, deployed_by="quinn", note="longer RFI escalation, two-year cycle, LAB- numbers")
    case = to_desk_review(drive)
    assert case.definition_version == 2
    drive.do(case.id, "desk_review", "carol", desk_review_outcome="rfi", rfi_questions="Send the SOPs")
    [rfi] = drive.ready(case.id)
    assert rfi.due_at == drive.now() + timedelta(days=40)
    drive.do(case.id, "rfi_response", "alice")
    to_committee(drive, case)
    case = drive.do(case.id, "committee_decision", "cody")
    assert case.data["certificate_number"] == "LAB-" + case.id[:8].upper()
    awarded_on = drive.now().astimezone(timezone.utc).date()
    assert case.data["accreditation_expires_on"] == awarded_on.replace(year=awarded_on.year + 2).isoformat()
    assert case.data["cycle_months"] == 24


@pytest.fixture
def drive_v1(db, tmp_path):
    """As the ``drive`` fixture, but the library deployed is the one before the split."""
    from engine.users.identity import Identity
    from engine.cases.services import Engine
    from engine.cases.workspace import Workspace

    from .harness import Driver, create_people, traveller

    engine = Engine(db, script_time_limit=2.0)
    engine.deploy(_v1_bundle(), deployed_by="system", note="single-diagram library")
    identity = Identity(db)
    create_people(identity)
    with traveller() as clock:
        yield Driver(engine, Workspace(db, engine, identity, tmp_path / "files"), clock)


def test_a_case_started_on_the_single_diagram_finishes_on_it_after_the_split(drive_v1):
    d = drive_v1
    old = to_desk_review(d)
    assert old.definition_version == 1
    assert "accreditation_eligibility" not in {x["key"] for x in d.engine.definitions()}

    d.engine.deploy(read_directories(PROCESSES, FORMS), deployed_by="system", note="split library")
    latest = max(x["version"] for x in d.engine.definitions() if x["key"] == "accreditation")
    assert latest == 2
    assert {"accreditation_eligibility", "accreditation_maintenance"} <= {x["key"] for x in d.engine.definitions()}

    # it cannot be moved onto the split version (its desk review is drawn elsewhere there): a migration says
    # so, naming the task, and leaves the case as it was
    from engine.actors import Actor
    from engine.cases.migration import Migration

    quinn = Actor("quinn", {"quality_manager"}, None, "Quinn")
    result = Migration(d.engine).migrate_case(old.id, quinn, dry_run=True)
    assert result["can_migrate"] is False
    assert any("desk_review" in reason for reason in result["reasons"]), result["reasons"]
    assert Migration(d.engine).migrate_case(old.id, quinn)["can_migrate"] is False
    assert d.ready_ids(old.id) == ["desk_review"]

    # the old case keeps its version and finishes on it: desk review, inspection, decision, award
    assert d.case(old.id).definition_version == 1
    to_committee(d, old)
    old = d.do(old.id, "committee_decision", "cody")
    assert old.definition_version == 1 and old.data["certificate_number"] == "ACC-" + old.id[:8].upper()
    assert old.status == "running" and old.tasks == []

    # a new case runs the split version to award, through its called phases
    new = awarded(d)
    assert new.definition_version == 2 and new.data["certificate_number"].startswith("ACC-")
    phases = {e["element_id"] for e in d.actions(new.id, "element.completed")} & set(PHASES)
    assert phases >= {"eligibility_phase", "desk_review_phase", "inspection_phase", "decision_phase"}

    # the old case's messages start cases of the new versions, which find their deadlines themselves
    d.later(days=367)
    [audit] = d.linked(old.id, "surveillance_audit")
    [report] = d.linked(old.id, "annual_report")
    assert d.case(audit.id).definition_version == 2
    assert d.ready_ids(audit.id) == ["plan_surveillance_audit"]
    report_task = d.task(report.id, "submit_annual_report")
    assert report_task.due_at == d.now() + timedelta(days=30)
    # and the old case still expires on its own timer
    expiry = next(i["due_at"] for i in d.engine.schedule(case_ids=[old.id]) if i["kind"] == "expiry")
    d.clock.move_to((expiry if expiry.tzinfo else expiry.replace(tzinfo=timezone.utc)) + timedelta(seconds=1))
    d.engine.fire_due_timers()
    old = d.case(old.id)
    assert (old.status, old.outcome, old.definition_version) == ("completed", "ended_expired", 1)
    assert d.case(new.id).status == "completed"  # awarded at the same time: it expires too, on the new version
    assert d.case(new.id).outcome == "ended_expired"
