"""Versioned deployment and migration: new cases take the new version, running cases finish on theirs or are
moved after a dry run; a case that cannot move is reported and left exactly as it was."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.actors import Actor
from engine.definitions.bundles import bundle_from_uploads, read_directories
from engine.cases.deployment import BundleInvalid, Deployment
from engine.errors import Conflict, Forbidden, InvalidFormData, NotFound
from engine.definitions.library import load_library
from engine.cases.migration import Migration
from engine.cases.shipped import deploy_library, deploy_shipped
from engine.storage.models import Case, Event, HumanTask, ProcessDefinition, Timer

from ..conftest import FORMS, PROCESSES
from .bpmn_builder import SIMPLE_FORM, flow, process, two_step, user_task
from .test_messages_timers import timer_bundle

QM = Actor("quinn", {"quality_manager"}, None, "Quinn Quality")
T0 = datetime(2027, 1, 4, 9, 0, tzinfo=timezone.utc)


# -- bundles -----------------------------------------------------------------------------------------------

def two_step_v2() -> dict[str, str]:
    """two_step with an added coordinator task 'archive' after 'review'."""
    files = two_step()
    xml = files["two_step.bpmn"]
    xml = xml.replace(flow("f4", "review", "end_yes"),
                      flow("f4", "review", "archive") + flow("f5", "archive", "end_yes"))
    xml = xml.replace('<bpmn:endEvent id="end_yes"', user_task("archive", "Archive the file", None)
                      + '<bpmn:endEvent id="end_yes"')
    xml = xml.replace("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>",
                      "<bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>archive</bpmn:flowNodeRef>")
    files["two_step.bpmn"] = xml
    return files


def two_step_without_review() -> dict[str, str]:
    """two_step where 'yes' ends at once: the coordinator's 'review' no longer exists."""
    files = two_step()
    xml = files["two_step.bpmn"]
    xml = xml.replace(user_task("review", "Review", None), "").replace(flow("f4", "review", "end_yes"), "")
    xml = xml.replace('targetRef="review"', 'targetRef="end_yes"')
    xml = xml.replace("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>", "")
    files["two_step.bpmn"] = xml
    return files


def called_bundle(task_name: str = "Work", called: str = "child") -> dict[str, str]:
    """parent (applicant starts) → call activity → child: one applicant task 'work'."""
    parent = ('<bpmn:startEvent id="start"/>'
              f'<bpmn:callActivity id="call_child" name="Do the work" calledElement="{called}"/>'
              '<bpmn:endEvent id="end"/>' + flow("p1", "start", "call_child") + flow("p2", "call_child", "end"))
    child = ('<bpmn:startEvent id="c_start"/>' + user_task("work", task_name, "simple.json")
             + '<bpmn:endEvent id="c_end"/>' + flow("c1", "c_start", "work") + flow("c2", "work", "c_end"))
    return {"parent.bpmn": process("parent", {"applicant": ["start", "call_child", "end"]}, parent),
            "child.bpmn": process("child", {"applicant": ["c_start", "work", "c_end"]}, child),
            "simple.json": SIMPLE_FORM}


@pytest.fixture
def dep(engine):
    return Deployment(engine)


def _row(engine, case_id):
    with engine.db.read() as s:
        row = s.get(Case, case_id)
        events = s.scalar(sa.select(sa.func.count(Event.id)).where(Event.case_id == case_id))
        inbox = sorted((h.id, h.element_id, h.status) for h in s.scalars(sa.select(HumanTask)
                                                                            .where(HumanTask.case_id == case_id)))
        timers = sorted((t.element_id, t.due_at) for t in s.scalars(sa.select(Timer).where(Timer.case_id == case_id)))
        return {"definition_id": row.definition_id, "state": row.state, "version": row.version, "events": events,
                "inbox": inbox, "timers": timers}


def _do(engine, case_id, element_id, actor, data=None):
    [task] = [t for t in engine.ready_tasks(case_id) if t.element_id == element_id]
    return engine.complete_task(task.id, actor, data or {})


# -- versions ----------------------------------------------------------------------------------------------

def test_same_content_is_not_a_new_version_and_note_and_author_are_kept(engine, dep):
    first = dep.deploy(two_step(), QM, "first")
    assert [(d["key"], d["version"], d["created"]) for d in first["deploy"]] == [("two_step", 1, True)]
    again = dep.deploy(two_step(), QM, "same again")
    assert [(d["version"], d["created"]) for d in again["deploy"]] == [(1, False)]
    second = dep.deploy({"two_step.bpmn": two_step_v2()["two_step.bpmn"]}, QM, "archive after review")
    assert [(d["version"], d["created"], d["previous_version"]) for d in second["deploy"]] == [(2, True, 1)]
    assert second["supplemented"] == [{"file": "simple.json", "from": "two_step v1"}]  # a partial upload
    [entry] = dep.overview()
    assert entry["latest_version"] == 2
    assert [(v["version"], v["note"], v["deployed_by"], v["latest"]) for v in entry["versions"]] == [
        (1, "first", "quinn", False), (2, "archive after review", "quinn", True)]
    detail = dep.version("two_step", 2)
    assert {f["name"]: f["kind"] for f in detail["files"]} == {"two_step.bpmn": "bpmn", "simple.json": "form"}
    assert "archive" in {t["element_id"] for t in detail["user_tasks"]}
    assert dep.file("two_step", 1, "two_step.bpmn") == two_step()["two_step.bpmn"]
    with pytest.raises(NotFound):
        dep.version("two_step", 3)
    with engine.db.read() as s:
        deployed = s.scalars(sa.select(Event).where(Event.action == "definition.deployed")).all()
    assert [(e.actor, e.data["version"], e.data["note"]) for e in deployed] == [
        ("quinn", 1, "first"), ("quinn", 2, "archive after review")]


def test_new_cases_take_v2_while_old_cases_finish_on_v1(engine, dep, actors):
    dep.deploy(two_step(), QM, "v1")
    old = engine.start_case("two_step", actors["applicant"], "lab-a")
    dep.deploy(two_step_v2(), QM, "v2")
    new = engine.start_case("two_step", actors["applicant"], "lab-a")
    assert (old.definition_version, new.definition_version) == (1, 2)

    for case in (old, new):
        _do(engine, case.id, "ask", actors["applicant"], {"answer": "yes"})
        _do(engine, case.id, "review", actors["coordinator"])
    assert engine.get_case(old.id).status == "completed"  # v1: review was the last task
    assert [t.element_id for t in engine.ready_tasks(new.id)] == ["archive"]
    _do(engine, new.id, "archive", actors["coordinator"])
    assert engine.get_case(new.id).status == "completed"
    counts = {v["version"]: (v["open_cases"], v["cases"]) for v in dep.overview()[0]["versions"]}
    assert counts == {1: (0, 1), 2: (0, 1)}


def test_diff_names_added_removed_and_changed_elements(dep):
    dep.deploy(two_step(), QM, "v1")
    dep.deploy(two_step_v2(), QM, "v2")
    dep.deploy(two_step_without_review(), QM, "v3")
    d = dep.diff("two_step", 1, 2)
    [main] = d["processes"]
    assert [e["element_id"] for e in main["added"]] == ["archive"] and main["removed"] == []
    assert {e["element_id"]: e["changes"] for e in main["changed"]} == {"review": ["flows"], "end_yes": ["flows"]}
    assert d["files"] == {"added": [], "removed": [], "changed": ["two_step.bpmn"]}
    back = dep.diff("two_step", 2, 3)["processes"][0]
    assert {e["element_id"] for e in back["removed"]} == {"review", "archive"}


# -- partial uploads, call activities ----------------------------------------------------------------------

def test_a_changed_called_process_alone_redeploys_its_callers(dep):
    dep.deploy(called_bundle(), QM, "v1")
    changed = called_bundle(task_name="Do the work properly")["child.bpmn"]
    report = dep.deploy({"child.bpmn": changed}, QM, "child renamed its task")
    versions = {d["key"]: (d["version"], d["created"], d["reason"]) for d in report["deploy"]}
    # the caller embeds the spec it calls: it needs a new version too, or new cases would call the old child
    assert versions == {"child": (2, True, "uploaded"), "parent": (2, True, "uses child.bpmn")}
    assert dep.diff("parent", 1, 2)["processes"][1]["changed"][0]["element_id"] == "work"


def test_a_caller_alone_resolves_its_call_activity_from_the_deployed_library(dep):
    dep.deploy(called_bundle(), QM, "v1")
    report = dep.validate({"parent.bpmn": called_bundle()["parent.bpmn"]})
    assert report["valid"], report["errors"]
    assert {s["file"] for s in report["supplemented"]} == {"child.bpmn", "simple.json"}
    assert [(d["key"], d["created"]) for d in report["deploy"]] == [("parent", False)]


def test_unresolvable_call_activity_is_named_with_file_and_line(dep):
    report = dep.validate({"parent.bpmn": called_bundle(called="nowhere")["parent.bpmn"]})
    assert not report["valid"]
    [error] = [e for e in report["errors"] if e.get("element_id") == "call_child"]
    assert error["file"] == "parent.bpmn" and error["line"] and "'nowhere'" in error["message"]
    assert "in the upload or among the deployed processes" in error["message"]
    with pytest.raises(BundleInvalid) as info:
        dep.deploy({"parent.bpmn": called_bundle(called="nowhere")["parent.bpmn"]}, QM, "broken")
    assert info.value.details["errors"][0]["element_id"] == "call_child"
    assert dep.overview() == []


def test_upload_reading_reports_every_bad_file():
    with pytest.raises(InvalidFormData) as info:
        bundle_from_uploads([("notes.txt", b"x"), ("a.bpmn", b"\xff\xfe"), ("ok.json", b"{}"), ("ok.json", b"{}")])
    assert [e["field"] for e in info.value.errors] == ["/files/0", "/files/1", "/files/3"]
    assert bundle_from_uploads([("dir/sub/a.bpmn", b"<x/>")]) == {"a.bpmn": "<x/>"}


def test_only_a_quality_manager_deploys_and_migrates(engine, dep, actors):
    dep.deploy(two_step(), QM, "v1")
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    admin = Actor("adam", {"admin"}, None, "Adam Admin")
    for actor in (*actors.values(), admin):
        with pytest.raises(Forbidden):
            dep.deploy(two_step_v2(), actor, "v2")
        with pytest.raises(Forbidden):
            Migration(dep.engine).migrate_case(case.id, actor, dry_run=True)


# -- the shipped library -----------------------------------------------------------------------------------

def test_the_shipped_library_validates():
    lib = load_library(read_directories(PROCESSES, FORMS))
    assert lib.ok, [str(p) for p in lib.errors]
    assert {"accreditation", "inspection", "membership"} <= set(lib.processes)


def test_a_restart_does_not_undo_a_quality_managers_deployment(engine, dep):
    deploy_shipped(dep, PROCESSES, FORMS)
    files = read_directories(PROCESSES, FORMS)
    changed = files["membership.bpmn"].replace('name="Become a Member"', 'name="Become a member (v2)"', 1)
    assert changed != files["membership.bpmn"]
    assert [d["version"] for d in dep.deploy({"membership.bpmn": changed}, QM, "renamed")["deploy"]] == [2]
    again = deploy_shipped(dep, PROCESSES, FORMS)  # the next start-up
    assert all(not d["created"] for d in again["deploy"])
    with engine.db.read() as s:
        assert engine.specs.latest(s, "membership").version == 2


def _library_dir(tmp_path, files: dict[str, str]):
    """The library's files on disk, as the shipped processes/ and forms/ (written again for each change)."""
    processes, forms = tmp_path / "processes", tmp_path / "forms"
    for d in (processes, forms):
        d.mkdir(exist_ok=True)
        for old in d.iterdir():
            old.unlink()
    for name, text in files.items():
        ((forms if name.endswith(".json") else processes) / name).write_text(text, encoding="utf-8")
    return processes, forms


def _versions(engine, key):
    with engine.db.read() as s:
        return [(d.version, d.deployed_by, d.note) for d in s.scalars(
            sa.select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version))]


def test_the_command_line_deploys_through_the_same_path_with_a_default_note(engine, dep, tmp_path):
    dirs = _library_dir(tmp_path, two_step())
    first = deploy_library(dep, *dirs, deployed_by="olga")
    assert [(d["key"], d["version"], d["created"]) for d in first["deploy"]] == [("two_step", 1, True)]
    assert _versions(engine, "two_step") == [(1, "olga", "deployed from the command line by olga")]
    with engine.db.read() as s:
        [event] = s.scalars(sa.select(Event).where(Event.case_id.is_(None), Event.action == "definition.deployed"))
        assert event.actor == "olga" and event.data["source"] == "shipped" and event.data["version"] == 1
        assert event.data["note"] == "deployed from the command line by olga"
    again = deploy_library(dep, *dirs, deployed_by="olga", note="again")
    assert [d["created"] for d in again["deploy"]] == [False] and len(_versions(engine, "two_step")) == 1
    _library_dir(tmp_path, two_step(script="result = answer.lower()"))  # the files change: a new version
    assert [d["version"] for d in deploy_library(dep, *dirs, deployed_by="olga")["deploy"]] == [2]


def test_the_files_never_replace_a_newer_version_a_quality_manager_deployed(engine, dep, tmp_path):
    dirs = _library_dir(tmp_path, two_step())
    deploy_library(dep, *dirs, deployed_by="olga")
    dep.deploy(two_step_v2(), QM, "archive after review")  # v2 over HTTP
    # unchanged files: nothing to do, v2 stays the latest — from the command line and at start-up
    kept = deploy_library(dep, *dirs, deployed_by="olga")["deploy"]
    assert [(d["version"], d["created"]) for d in kept] == [(2, False)] and "v2 stays the latest" in kept[0]["reason"]
    assert [(d["version"], d["created"]) for d in deploy_shipped(dep, *dirs)["deploy"]] == [(2, False)]
    # changed files: refused in one sentence (nothing deployed) unless forced; start-up keeps v2
    _library_dir(tmp_path, two_step(script="result = answer.lower()"))
    with pytest.raises(Conflict) as info:
        deploy_library(dep, *dirs, deployed_by="olga")
    assert info.value.message.startswith("not deployed: a newer version than the files exists ('two_step' v2 was "
                                         "deployed by quinn on ")
    assert "since the files were deployed as v1" in info.value.message and "--force" in info.value.message
    at_start = deploy_shipped(dep, *dirs)["deploy"]
    assert [(d["version"], d["created"]) for d in at_start] == [(2, False)] and "quinn" in at_start[0]["reason"]
    assert [v for v, *_ in _versions(engine, "two_step")] == [1, 2]
    forced = deploy_library(dep, *dirs, deployed_by="olga", note="back to the shipped rule", force=True)["deploy"]
    assert [(d["version"], d["created"], d["reason"]) for d in forced] == [(3, True, "forced over v2")]
    assert _versions(engine, "two_step")[-1] == (3, "olga", "back to the shipped rule")


def test_files_never_deployed_do_not_replace_versions_deployed_over_http(engine, dep, tmp_path):
    dep.deploy(two_step_v2(), QM, "made in the studio")
    dirs = _library_dir(tmp_path, two_step())
    with pytest.raises(Conflict) as info:
        deploy_library(dep, *dirs, deployed_by="olga")
    assert "and the files were never deployed" in info.value.message
    assert [v for v, *_ in _versions(engine, "two_step")] == [1]


def test_an_invalid_library_on_disk_deploys_nothing(engine, dep, tmp_path):
    bad = two_step(script="import os")
    dirs = _library_dir(tmp_path, bad)
    with pytest.raises(BundleInvalid) as info:
        deploy_library(dep, *dirs, deployed_by="olga")
    assert [e["element_id"] for e in info.value.report["errors"]] == ["compute"]
    assert _versions(engine, "two_step") == []


# -- migration ---------------------------------------------------------------------------------------------

def test_dry_run_changes_nothing_then_the_case_moves_and_runs_the_added_task(engine, dep, actors):
    dep.deploy(two_step(), QM, "v1")
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    dep.deploy(two_step_v2(), QM, "v2")
    before = _row(engine, case.id)

    dry = Migration(dep.engine).migrate_case(case.id, QM, dry_run=True)
    assert dry["can_migrate"] and not dry["migrated"] and dry["reasons"] == []
    assert (dry["from_version"], dry["to_version"]) == (1, 2)
    assert [(a["element_id"], a["ahead"]) for a in dry["added_tasks"]] == [("archive", True)]
    assert [t["element_id"] for t in dry["ready_tasks_after"]] == ["ask"]
    assert _row(engine, case.id) == before  # nothing happened

    done = Migration(dep.engine).migrate_case(case.id, QM)
    assert done["migrated"] and engine.get_case(case.id).definition_version == 2
    [event] = [e for e in engine.history(case.id) if e["action"] == "case.migrated"]
    assert event["actor"] == "quinn" and event["role"] == "quality_manager"
    assert (event["data"]["from_version"], event["data"]["to_version"]) == (1, 2)
    assert _row(engine, case.id)["inbox"] == before["inbox"]  # the ready task kept its id and inbox row

    _do(engine, case.id, "ask", actors["applicant"], {"answer": "yes"})
    _do(engine, case.id, "review", actors["coordinator"])
    assert [t.element_id for t in engine.ready_tasks(case.id)] == ["archive"]
    _do(engine, case.id, "archive", actors["coordinator"])
    assert engine.get_case(case.id).status == "completed"
    again = Migration(dep.engine).migrate_case(case.id, QM, dry_run=True)
    assert not again["can_migrate"] and "ended" in again["reasons"][0]


def test_a_case_that_cannot_move_is_reported_and_untouched(engine, dep, actors):
    dep.deploy(two_step(), QM, "v1")
    at_ask = engine.start_case("two_step", actors["applicant"], "lab-a")
    at_review = engine.start_case("two_step", actors["applicant"], "lab-a")
    _do(engine, at_review.id, "ask", actors["applicant"], {"answer": "yes"})
    dep.deploy(two_step_without_review(), QM, "v2: no review")
    before = _row(engine, at_review.id)

    result = Migration(dep.engine).migrate_case(at_review.id, QM)
    assert not result["can_migrate"] and not result["migrated"]
    assert any("'Review' (review)" in r and "version 2" in r for r in result["reasons"]), result["reasons"]
    assert _row(engine, at_review.id) == before

    bulk = Migration(dep.engine).migrate_version("two_step", 1, QM)
    assert (bulk["total"], bulk["migrated"], bulk["blocked"]) == (2, 1, 1)
    by_case = {c["case_id"]: c for c in bulk["cases"]}
    assert by_case[at_ask.id]["migrated"] and not by_case[at_review.id]["migrated"]
    assert _row(engine, at_review.id) == before
    assert engine.get_case(at_ask.id).definition_version == 2
    _do(engine, at_ask.id, "ask", actors["applicant"], {"answer": "yes"})
    assert engine.get_case(at_ask.id).outcome == "end_yes"  # v2 has no review
    _do(engine, at_review.id, "review", actors["coordinator"])  # still fine on v1
    assert engine.get_case(at_review.id).status == "completed"


def test_bulk_dry_run_reports_every_case_and_changes_nothing(engine, dep, actors):
    dep.deploy(two_step(), QM, "v1")
    ids = [engine.start_case("two_step", actors["applicant"], "lab-a").id for _ in range(3)]
    dep.deploy(two_step_v2(), QM, "v2")
    before = [_row(engine, i) for i in ids]
    report = Migration(dep.engine).migrate_version("two_step", 1, QM, dry_run=True)
    assert (report["total"], report["can_migrate"], report["migrated"]) == (3, 3, 0)
    assert [_row(engine, i) for i in ids] == before
    with pytest.raises(NotFound):
        Migration(dep.engine).migrate_version("two_step", 7, QM, dry_run=True)


def test_an_unchanged_timer_keeps_its_due_time_and_a_changed_one_restarts(engine, dep, actors):
    with time_machine.travel(T0, tick=False) as clock:
        dep.deploy(timer_bundle(), QM, "v1")
        case = engine.start_case("deadline", actors["applicant"], "lab-a")
        due_before = dict(_row(engine, case.id)["timers"])
        assert due_before == {"remind": T0 + timedelta(days=1), "lapse": T0 + timedelta(days=3)}
        v2 = timer_bundle()
        v2["deadline.bpmn"] = v2["deadline.bpmn"].replace('"P1D"', '"P2D"')
        dep.deploy(v2, QM, "remind after two days")
        clock.shift(timedelta(hours=12))
        result = Migration(dep.engine).migrate_case(case.id, QM)
        assert result["migrated"] and result["timers_restarted"] == ["'Reminder' (remind)"]
        after = dict(_row(engine, case.id)["timers"])
        assert after["lapse"] == T0 + timedelta(days=3)  # the deadline did not move
        assert after["remind"] == T0 + timedelta(hours=12, days=2)
        [task] = engine.ready_tasks(case.id)
        assert task.due_at == T0 + timedelta(days=3)
        clock.shift(timedelta(days=3))
        engine.fire_due_timers()
        assert engine.get_case(case.id).outcome == "ended_lapsed"


def test_a_ready_task_whose_role_changed_gets_its_new_lane_and_loses_the_claim(engine, dep, actors):
    dep.deploy(two_step(), QM, "v1")
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    _do(engine, case.id, "ask", actors["applicant"], {"answer": "yes"})
    [review] = engine.ready_tasks(case.id)
    with engine.db.write() as s:
        s.get(HumanTask, review.id).claimed_by = "carol"
    v2 = two_step()
    xml = v2["two_step.bpmn"].replace("<bpmn:flowNodeRef>review</bpmn:flowNodeRef>", "")
    v2["two_step.bpmn"] = xml.replace('<bpmn:lane id="lane_coordinator" name="coordinator">',
                                      '<bpmn:lane id="lane_coordinator" name="coordinator">'
                                      '</bpmn:lane><bpmn:lane id="lane_committee" name="committee">'
                                      '<bpmn:flowNodeRef>review</bpmn:flowNodeRef>')
    assert load_library(v2).ok, [str(p) for p in load_library(v2).errors]
    dep.deploy(v2, QM, "the committee reviews")
    result = Migration(dep.engine).migrate_case(case.id, QM)
    assert [(a["element_id"], a["changes"]) for a in result["affected_ready_tasks"]] == [("review", ["lane"])]
    [after] = engine.ready_tasks(case.id)
    assert (after.id, after.role, after.claimed_by) == (review.id, "committee", None)
    _do(engine, case.id, "review", actors["committee"])
    assert engine.get_case(case.id).status == "completed"


def test_a_case_inside_a_called_process_moves_with_it(engine, dep, actors):
    dep.deploy(called_bundle(), QM, "v1")
    case = engine.start_case("parent", actors["applicant"], "lab-a")
    dep.deploy({"child.bpmn": called_bundle(task_name="Do the work properly")["child.bpmn"]}, QM, "renamed")
    result = Migration(dep.engine).migrate_case(case.id, QM)
    assert result["migrated"], result["reasons"]
    assert [(a["element_id"], a["process"]) for a in result["affected_ready_tasks"]] == [("work", "child")]
    [task] = engine.ready_tasks(case.id)
    assert task.name == "Do the work properly"
    _do(engine, case.id, "work", actors["applicant"], {"answer": "no"})
    assert engine.get_case(case.id).status == "completed"
    with engine.db.read() as s:
        assert s.get(Case, case.id).definition.version == 2
        assert s.scalar(sa.select(sa.func.count(ProcessDefinition.id))) == 4


def test_a_case_that_fails_on_the_new_version_is_refused_with_the_element(engine, dep, actors):
    dep.deploy(two_step(), QM, "v1")
    case = engine.start_case("two_step", actors["applicant"], "lab-a")
    v2 = two_step()
    head = '<bpmn:userTask id="ask" name="Answer the question"><bpmn:extensionElements>'
    assert head in v2["two_step.bpmn"]
    v2["two_step.bpmn"] = v2["two_step.bpmn"].replace(
        head, head + "<spiffworkflow:preScript>greeting = salutation + ' applicant'</spiffworkflow:preScript>")
    dep.deploy(v2, QM, "greet the applicant")
    before = _row(engine, case.id)
    result = Migration(dep.engine).migrate_case(case.id, QM)
    assert not result["migrated"] and "(element ask)" in result["reasons"][0], result["reasons"]
    assert "salutation" in result["reasons"][0]
    assert _row(engine, case.id) == before
