"""`accredit processes validate|deploy` and the start-up deployment (`accredit serve`): the command line deploys
through the API's deployment (change note, immutable versions, a record in the system history) and never
replaces a version a quality manager deployed since; every refusal is one clear line and a non-zero exit."""
from __future__ import annotations

import codecs
import getpass

import pytest
import sqlalchemy as sa

from engine.actors import Actor
from engine.bootstrap import prepare
from engine.storage.db import Database
from engine.cases.deployment import Deployment
from engine.storage.models import Event, ProcessDefinition
from engine.cases.services import Engine

from .engine.bpmn_builder import two_step
from .engine.test_deployment import _library_dir, two_step_v2
from .api.test_odd_uploads import XXE
from .engine.test_other_modelers import camunda, latin1_bundle
from .test_cli_errors import run, sentence

QM = Actor("quinn", {"quality_manager"}, None, "Quinn Quality")


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def versions(url, key="two_step"):
    database = Database(url)
    try:
        with database.read() as s:
            return [(d.version, d.deployed_by, d.note) for d in s.scalars(
                sa.select(ProcessDefinition).where(ProcessDefinition.key == key).order_by(ProcessDefinition.version))]
    finally:
        database.dispose()


def deploy_over_http_like(url, files):
    database = Database(url)
    try:
        Deployment(Engine(database)).deploy(files, QM, "made in the studio")
    finally:
        database.dispose()


def args(dirs, *more):
    return ["processes", "deploy", str(dirs[0]), "--forms", str(dirs[1]), *more]


def test_validate_reads_a_latin1_library_and_names_each_problem(tmp_path, url):
    dirs = _library_dir(tmp_path, {})
    for name, data in latin1_bundle().items():
        (dirs[1 if name.endswith(".json") else 0] / name).write_bytes(data)
    ok = run(["processes", "validate", str(dirs[0]), "--forms", str(dirs[1])], url)
    assert ok.exit_code == 0 and '"valid": true' in ok.output, ok.output
    (dirs[0] / "erp.bpmn").write_text(camunda('<bpmn:serviceTask id="Activity_1" name="Call ERP"/>'))
    bad = run(["processes", "validate", str(dirs[0]), "--forms", str(dirs[1])], url)
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "error: erp.bpmn:5 [Activity_1] service task 'Call ERP' cannot run in this engine" in bad.output


def test_validate_warns_about_a_file_with_no_executable_process(tmp_path, url):
    dirs = _library_dir(tmp_path, two_step())
    (dirs[0] / "overview.bpmn").write_text(camunda('<bpmn:task id="Activity_1" name="Do"/>', executable="false"))
    result = run(["processes", "validate", str(dirs[0]), "--forms", str(dirs[1])], url)
    assert result.exit_code == 0
    assert "warning: overview.bpmn:2 no executable process: nothing will be deployed from overview.bpmn" in result.output


@pytest.mark.parametrize("command", ["validate", "deploy"])
@pytest.mark.parametrize("data, words", [
    (b"", "'odd.bpmn' is empty"),
    (codecs.BOM_UTF16_LE, "'odd.bpmn' is empty"),
    (bytes(range(256)) * 8, "'odd.bpmn' is a binary file, not an XML diagram"),
    ("<bpmn:definitions name='Prüfung'/>".encode("latin-1"), "'odd.bpmn' is not UTF-8 text"),
])
def test_an_unreadable_file_is_one_sentence(tmp_path, url, command, data, words):
    dirs = _library_dir(tmp_path, two_step())
    (dirs[0] / "odd.bpmn").write_bytes(data)
    line = sentence(run(["processes", command, str(dirs[0]), "--forms", str(dirs[1])], url))
    assert "some files of the library cannot be read" in line and words in line


@pytest.mark.parametrize("command", ["validate", "deploy"])
@pytest.mark.parametrize("text, words", [
    (XXE, "error: odd.bpmn:1 the file declares a DTD"),
    (two_step()["two_step.bpmn"].replace('id="two_step"', 'id="other"').replace(
        'name="Compute"', 'name="' + "x" * 50_000 + '"'), "is 50,000 characters long (limit 10,000)"),
    ("<html/>", "error: odd.bpmn:1 the file is not a BPMN 2.0 diagram"),
])
def test_odd_xml_is_named_with_the_file_and_exits_1(tmp_path, url, command, text, words):
    dirs = _library_dir(tmp_path, two_step())
    (dirs[0] / "odd.bpmn").write_text(text, encoding="utf-8")
    result = run(["processes", command, str(dirs[0]), "--forms", str(dirs[1])], url)
    assert result.exit_code == 1 and "Traceback" not in result.output and "root:" not in result.output
    assert words in result.output, result.output


def test_deploy_records_a_default_note_and_the_os_user(tmp_path, url):
    dirs = _library_dir(tmp_path, two_step())
    result = run(args(dirs), url)
    assert result.exit_code == 0, result.output
    user = getpass.getuser()
    assert "two_step: v1 deployed" in result.output
    assert versions(url) == [(1, user, f"deployed from the command line by {user}")]
    database = Database(url)
    with database.read() as s:
        [event] = s.scalars(sa.select(Event).where(Event.action == "definition.deployed"))
        assert (event.actor, event.case_id, event.data["version"]) == (user, None, 1)
    database.dispose()
    again = run(args(dirs, "--by", "olga", "--note", "release 2.1"), url)
    assert "two_step: v1 unchanged (the files are unchanged)" in again.output and len(versions(url)) == 1


def test_deploy_refuses_to_replace_a_quality_managers_version_in_one_line(tmp_path, url):
    dirs = _library_dir(tmp_path, two_step())
    assert run(args(dirs), url).exit_code == 0
    deploy_over_http_like(url, two_step_v2())
    unchanged = run(args(dirs), url)
    assert unchanged.exit_code == 0 and "two_step: v2 unchanged (the files are unchanged since v1; v2 stays" \
        in unchanged.output
    _library_dir(tmp_path, two_step(script="result = answer.lower()"))
    line = sentence(run(args(dirs), url))
    assert line.startswith("Error: not deployed: a newer version than the files exists ('two_step' v2 was "
                           "deployed by quinn on ")
    assert line.endswith("deploy them anyway with --force")
    assert [v for v, *_ in versions(url)] == [1, 2]
    forced = run(args(dirs, "--force", "--by", "olga"), url)
    assert forced.exit_code == 0 and "two_step: v3 deployed" in forced.output
    assert versions(url)[-1] == (3, "olga", "deployed from the command line by olga")


def test_deploy_of_an_invalid_library_names_each_problem_and_exits_1(tmp_path, url):
    dirs = _library_dir(tmp_path, two_step(script="import os"))
    result = run(args(dirs), url)
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines[-1] == "Error: nothing was deployed: the library has 1 error(s)"
    assert any(ln.startswith("error: two_step.bpmn:3 [compute] script: ") for ln in lines), lines
    assert versions(url) == []


def test_start_up_never_replaces_a_quality_managers_version(tmp_path, url, monkeypatch):
    dirs = _library_dir(tmp_path, two_step())
    monkeypatch.setenv("ACCREDIT_PROCESSES_DIR", str(dirs[0]))
    monkeypatch.setenv("ACCREDIT_FORMS_DIR", str(dirs[1]))
    database = Database(url)
    try:
        assert [d["version"] for d in prepare(database)["deploy"]] == [1]
        Deployment(Engine(database)).deploy(two_step_v2(), QM, "made in the studio")
        _library_dir(tmp_path, two_step(script="result = answer.lower()"))  # a software update ships new files
        kept = prepare(database)["deploy"]
        assert [(d["version"], d["created"]) for d in kept] == [(2, False)]
        assert "v2 was deployed by quinn" in kept[0]["reason"]
    finally:
        database.dispose()
    assert [(v, by) for v, by, _ in versions(url)] == [(1, "system"), (2, "quinn")]
