"""Odd files over HTTP — an upload (multipart) and the studio's JSON body, to both the validate and the deploy
endpoints: every one is answered with a 4xx problem or a validation report naming the file, never a 500; a
Latin-1 diagram from another modeler is read in its declared encoding and deploys; XXE stays refused."""
from __future__ import annotations

import codecs

import pytest

from ..engine.bpmn_builder import SIMPLE_FORM, two_step
from ..engine.test_other_modelers import CAMUNDA, camunda, chain_bundle, latin1_bundle
from .conftest import assert_problem
from .test_definitions_api import multipart

QM = "quality_manager"
VALIDATE, DEPLOY = "/api/process-definitions/validate", "/api/process-definitions"
TWO = two_step()["two_step.bpmn"]
XXE = TWO.replace("<bpmn:definitions", '<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<bpmn:definitions') \
    .replace('name="Compute"', 'name="&e;"')

#: (file name, bytes, words the answer names it with, answered by the upload reader (422 invalid form data)
#: or by validation (a report on validate, 422 definition-invalid on deploy))
ODD = [
    ("empty.bpmn", b"", "'empty.bpmn' is empty", "upload"),
    ("picture.bpmn", bytes(range(256)) * 8, "'picture.bpmn' is a binary file", "upload"),
    ("bom_only.bpmn", codecs.BOM_UTF8, "'bom_only.bpmn' is empty", "upload"),
    ("latin1_undeclared.bpmn", TWO.replace("Compute", "Prüfen").encode("latin-1"),
     "'latin1_undeclared.bpmn' is not UTF-8 text", "upload"),
    ("xxe.bpmn", XXE.encode(), "DTDs and entities are not allowed", "validation"),
    ("huge.bpmn", TWO.replace('name="Compute"', 'name="' + "x" * 100_000 + '"').encode(),
     "is 100,000 characters long", "validation"),
    ("page.bpmn", b"<html><body>hello</body></html>", "not a BPMN 2.0 diagram", "validation"),
    ("utf16.bpmn", TWO.replace('encoding="UTF-8"', 'encoding="UTF-16"').replace("Compute", "Prüfen")
     .encode("utf-16"), None, "valid"),
    ("bom8.bpmn", codecs.BOM_UTF8 + TWO.encode(), None, "valid"),
]


@pytest.mark.parametrize("name, data, words, by", ODD, ids=[o[0] for o in ODD])
@pytest.mark.parametrize("path", [VALIDATE, DEPLOY])
def test_odd_files_get_a_clear_answer_naming_the_file(api, path, name, data, words, by):
    r = api.client(QM).post(path, **multipart({name: data, "simple.json": SIMPLE_FORM}))
    assert r.status_code < 500
    if by == "valid":
        assert r.status_code in (200, 201), r.get_json()
        assert r.get_json()["valid"]
        return
    if by == "upload":
        problem = assert_problem(r, 422)
        assert [e["field"] for e in problem["errors"]] == ["/files/0"] and words in problem["errors"][0]["message"]
        return
    if path == VALIDATE:
        assert r.status_code == 200 and not r.get_json()["valid"]
        errors = r.get_json()["errors"]
    else:
        errors = assert_problem(r, 422)["errors"]
    assert [(e["file"], words in e["message"]) for e in errors] == [(name, True)], errors
    assert "root:" not in r.get_data(as_text=True)  # no external entity was read


@pytest.mark.parametrize("files, words", [
    ({"xxe.bpmn": XXE}, "DTDs and entities are not allowed"),
    ({"odd.bpmn": "   "}, "'odd.bpmn' is empty"),
])
def test_the_studio_json_body_gets_the_same_answers(api, files, words):
    # a lone surrogate ("\ud800") is refused at the door, before any file is read: test_odd_text.py
    r = api.client(QM).post(VALIDATE, json={"files": files})
    assert r.status_code in (200, 422)
    body = r.get_json()
    messages = [e["message"] for e in body["errors"]]
    assert any(words in m for m in messages), body


def test_a_latin1_diagram_deploys_over_http_and_from_the_studio(api):
    r = api.client(QM).post(DEPLOY, **multipart(latin1_bundle(), note="Camunda export"))
    assert r.status_code == 201, r.get_json()
    studio = {n: t.decode("latin-1") for n, t in latin1_bundle().items()}  # the editor hands text, declaration kept
    r = api.client(QM).post(DEPLOY, json={"files": studio, "note": "from the studio"})
    assert r.status_code == 200, r.get_json()  # the same content read the same way: no new version
    [version] = [d["version"] for d in r.get_json()["deploy"] if d["key"] == "two_step"]
    stored = api.client(QM).get(f"/api/process-definitions/two_step/versions/{version}/files/two_step.bpmn")
    assert "Prüfung für Qualitätsmanager" in stored.get_data(as_text=True)
    assert 'encoding="UTF-8"' in stored.get_data(as_text=True)


def test_a_file_with_no_executable_process_is_a_warning_not_a_silent_success(api):
    only_collaboration = (CAMUNDA + '<bpmn:collaboration id="C1"><bpmn:participant id="P1" name="Lab"/>'
                          '</bpmn:collaboration></bpmn:definitions>')
    r = api.client(QM).post(VALIDATE, **multipart({"overview.bpmn": only_collaboration}))
    body = r.get_json()
    assert r.status_code == 200 and body["valid"] and body["deploy"] == [] and body["processes"] == []
    assert [w["message"] for w in body["warnings"]] == [
        "no executable process: nothing will be deployed from overview.bpmn (it holds no process, at most a "
        "collaboration)"]


def test_a_service_task_is_refused_at_validate_over_http(api):
    text = camunda('<bpmn:serviceTask id="Activity_1" name="Call ERP" camunda:type="external" camunda:topic="erp"/>')
    r = api.client(QM).post(VALIDATE, **multipart({"erp.bpmn": text}))
    [error] = r.get_json()["errors"]
    assert error == {"severity": "error", "file": "erp.bpmn", "element_id": "Activity_1", "line": 5,
                     "message": "service task 'Call ERP' cannot run in this engine: the engine calls no external "
                                "services; use a script task, or a user task for a person"}


def test_a_500_task_chain_deploys_over_http(api):
    r = api.client(QM).post(DEPLOY, json={"files": chain_bundle(), "note": "long"})
    assert r.status_code == 201, r.get_json()
