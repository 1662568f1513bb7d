"""Diagrams as other modelers write them (Camunda Modeler, bpmn.io, Signavio): every problem is named in plain
words with file, element id, line and the offending value — a file with no executable process is a warning,
elements the engine cannot run are refused at validation, data stores and data objects are named, any declared
encoding is read, a long chain validates and runs, timers quote their value. Never a Python repr."""
from __future__ import annotations

import codecs
import re

import pytest

from engine.definitions.bundles import bundle_from_uploads, decode_file, read_directories
from engine.errors import InvalidFormData, ProcessError
from engine.definitions.library import load_library

from .bpmn_builder import SIMPLE_FORM, flow, process, two_step, user_task
from .test_messages_timers import timer_bundle

CAMUNDA = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
           'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
           'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_1" '
           'targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.17.0">\n')
REPR = re.compile(r"object at 0x|<Element |Error\(|Exception\(|\.\s*\.|^\s*$")


def camunda(body: str, *, executable="true", before="") -> str:
    """A Camunda-Modeler-style file: start → ``Activity_1`` (the element under test) → end."""
    return (CAMUNDA + before + f'<bpmn:process id="Process_1" isExecutable="{executable}">\n'
            '<bpmn:startEvent id="StartEvent_1"/>\n' + body + '\n<bpmn:endEvent id="Event_end"/>\n'
            '<bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Activity_1"/>\n'
            '<bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_1" targetRef="Event_end"/>\n'
            '</bpmn:process>\n</bpmn:definitions>\n')


def problems(files):
    lib = load_library(files)
    for p in lib.problems:  # every problem in plain words, with its file
        assert p.file and not REPR.search(p.message), p
    return lib


# -- (a) nothing to deploy -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, why", [
    (CAMUNDA + '<bpmn:collaboration id="C1"><bpmn:participant id="P1" name="Laboratory"/></bpmn:collaboration>\n'
              '</bpmn:definitions>', "holds no process"),
    (camunda('<bpmn:task id="Activity_1" name="Do"/>', executable="false"), "isExecutable=\"false\""),
    (CAMUNDA + "</bpmn:definitions>", "holds no process"),
])
def test_a_file_with_no_executable_process_is_a_warning_naming_it(text, why):
    lib = problems({"signavio_export.bpmn": text, **two_step()})
    assert lib.ok and set(lib.processes) == {"two_step"}
    [warning] = [w for w in lib.warnings if w.file == "signavio_export.bpmn"]
    assert "no executable process: nothing will be deployed from signavio_export.bpmn" in warning.message
    assert why in warning.message


# -- (b) elements the engine cannot run ----------------------------------------------------------------------

@pytest.mark.parametrize("element, words", [
    ('<bpmn:serviceTask id="Activity_1" name="Call ERP" camunda:class="com.acme.Erp"/>',
     "service task 'Call ERP' cannot run in this engine"),
    ('<bpmn:sendTask id="Activity_1" name="Notify lab"/>', "send task 'Notify lab' names no message"),
    ('<bpmn:receiveTask id="Activity_1" name="Wait for payment"/>', "receive task 'Wait for payment' names no message"),
    ('<bpmn:businessRuleTask id="Activity_1" name="Decide fee" camunda:decisionRef="fee"/>',
     "business rule task 'Decide fee' names no decision"),
    ('<bpmn:complexGateway id="Activity_1" name="Two of three"/>', "complex gateway 'Two of three' cannot run"),
    ('<bpmn:transaction id="Activity_1" name="Book"><bpmn:startEvent id="ts"/><bpmn:endEvent id="te"/>'
     '<bpmn:sequenceFlow id="tf" sourceRef="ts" targetRef="te"/></bpmn:transaction>', "transaction 'Book' cannot run"),
    ('<bpmn:adHocSubProcess id="Activity_1" name="Whatever"><bpmn:task id="t9" name="x"/></bpmn:adHocSubProcess>',
     "ad hoc sub process 'Whatever' cannot run"),
    ('<bpmn:intermediateCatchEvent id="Activity_1" name="Stock low"><bpmn:conditionalEventDefinition id="c1">'
     '<bpmn:condition xsi:type="bpmn:tFormalExpression">stock &lt; 3</bpmn:condition>'
     '</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>', "'Stock low' cannot run in this engine"),
    ('<bpmn:intermediateThrowEvent id="Activity_1" name="Undo"><bpmn:compensateEventDefinition id="c1"/>'
     '</bpmn:intermediateThrowEvent>', "'Undo' cannot run in this engine: compensation"),
    ('<bpmn:intermediateCatchEvent id="Activity_1" name="Go"><bpmn:signalEventDefinition id="s1" signalRef="Sig"/>'
     '</bpmn:intermediateCatchEvent>', "waits for signal 'Sig', which nothing in"),
    ('<bpmn:intermediateCatchEvent id="Activity_1" name="Reply"><bpmn:messageEventDefinition id="m1"/>'
     '</bpmn:intermediateCatchEvent>', "'Reply' names no message"),
    ('<bpmn:intermediateCatchEvent id="Activity_1" name="Later"><bpmn:timerEventDefinition id="t1"/>'
     '</bpmn:intermediateCatchEvent>', "'Later' is a timer without a time"),
])
def test_an_element_the_engine_cannot_run_is_refused_with_its_id_and_line(element, words):
    lib = problems({"camunda.bpmn": camunda(element, before='<bpmn:signal id="Sig" name="go"/>')})
    assert not lib.ok and not lib.processes
    [error] = [p for p in lib.errors if p.element_id == "Activity_1"]
    assert words in error.message, error.message
    assert error.file == "camunda.bpmn" and error.line == 5


def test_a_business_rule_task_calling_an_unknown_decision_is_named():
    task = ('<bpmn:businessRuleTask id="Activity_1" name="Decide fee"><bpmn:extensionElements>'
            '<spiffworkflow:calledDecisionId xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core">'
            'fee_table</spiffworkflow:calledDecisionId></bpmn:extensionElements></bpmn:businessRuleTask>')
    dmn = ('<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
           'id="d" name="d" namespace="x"><decision id="team_size" name="Team size"><decisionTable id="t">'
           '<output id="o" name="size" typeRef="integer"/></decisionTable></decision></definitions>')
    [error] = problems({"fees.bpmn": camunda(task), "team.dmn": dmn}).errors
    assert (error.element_id, error.line) == ("Activity_1", 5)
    assert error.message == ("business rule task 'Decide fee' calls decision 'fee_table', which no DMN file of the "
                             "library defines (decisions: team_size)")


def test_what_the_engine_runs_is_what_its_parser_reads_and_the_rest_is_refused():
    """The class, not a list of cases: every flow node the parser reads is either run or refused with advice,
    and every BPMN flow node the parser does not read is refused."""
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

    from engine.definitions.validation_elements import FLOW_NODES, RUNS, UNSUPPORTED

    parser = SpiffBpmnParser()
    read = {k.split("}")[1] for k in {**parser.PARSER_CLASSES, **parser.OVERRIDE_PARSER_CLASSES}}
    assert RUNS <= read
    assert (read - RUNS) <= set(UNSUPPORTED) and (FLOW_NODES - RUNS) <= set(UNSUPPORTED)
    for tag in sorted(FLOW_NODES - RUNS - {"choreographyTask", "subChoreography", "callChoreography"}):
        inner = '<bpmn:startEvent id="in_s"/>' if tag in ("transaction", "adHocSubProcess") else ""
        lib = problems({"x.bpmn": camunda(f'<bpmn:{tag} id="Activity_1" name="It">{inner}</bpmn:{tag}>')})
        assert [(p.element_id, "cannot run in this engine" in p.message) for p in lib.errors] == [
            ("Activity_1", True)], (tag, lib.errors)


def test_a_non_executable_process_is_not_checked_for_what_it_holds():
    lib = problems({"doc.bpmn": camunda('<bpmn:serviceTask id="Activity_1" name="ERP"/>', executable="false"),
                    **two_step()})
    assert lib.ok and not [p for p in lib.errors if p.file == "doc.bpmn"]


def test_parser_messages_name_the_element_without_dangling_dots():
    text = (CAMUNDA + '<bpmn:process id="Process_1" isExecutable="true"><bpmn:task id="Activity_1"/>'
            '</bpmn:process></bpmn:definitions>')
    [error] = problems({"nostart.bpmn": text}).errors
    assert error.message == "process 'Process_1': no start event found" and error.line == 3


# -- (c) data stores and data objects ------------------------------------------------------------------------

def _data(inner: str, before: str = "") -> str:
    task = ('<bpmn:userTask id="Activity_1" name="Record result"><bpmn:dataOutputAssociation id="DOA_1">'
            '<bpmn:targetRef>{target}</bpmn:targetRef></bpmn:dataOutputAssociation></bpmn:userTask>')
    return camunda(task.format(target="Ref_1") + inner, before=before)


@pytest.mark.parametrize("inner, before, element, words", [
    ('<bpmn:dataStoreReference id="Ref_1" name="Lab registry" dataStoreRef="DS_1"/>',
     '<bpmn:dataStore id="DS_1" name="Registry DB"/>', "Ref_1", "data store reference 'Lab registry' cannot run"),
    ('<bpmn:dataStoreReference id="Ref_1" name="Lab registry"/>', "", "Ref_1", "keeps no data stores"),
    ('<bpmn:dataObjectReference id="Ref_1" name="Report" dataObjectRef="Missing_1"/>', "", "Ref_1",
     "data object reference 'Report' refers to data object 'Missing_1', which the process does not define"),
    ('<bpmn:dataObjectReference id="Ref_2" name="Report" dataObjectRef="DO_1"/><bpmn:dataObject id="DO_1"/>', "",
     "Activity_1", "user task 'Record result': its data output association 'DOA_1' points at 'Ref_1'"),
])
def test_data_stores_and_data_objects_are_named(inner, before, element, words):
    lib = problems({"data.bpmn": _data(inner, before)})
    [error] = [p for p in lib.errors if p.element_id == element]
    assert words in error.message and error.line == 5, error


def test_a_data_object_of_the_process_is_fine():
    text = _data('<bpmn:dataObjectReference id="Ref_1" name="Report" dataObjectRef="DO_1"/>'
                 '<bpmn:dataObject id="DO_1"/>')
    lib = problems({"data.bpmn": text})
    assert not [p for p in lib.errors if "data" in p.message], lib.errors


# -- (d) encodings and odd files -----------------------------------------------------------------------------

def latin1_bundle() -> dict[str, bytes]:
    text = two_step()["two_step.bpmn"].replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    text = text.replace('name="Answer the question"', 'name="Prüfung für Qualitätsmanager"')
    return {"two_step.bpmn": text.encode("latin-1"), "simple.json": SIMPLE_FORM.encode()}


def test_a_latin1_file_is_read_in_its_declared_encoding():
    files = bundle_from_uploads(list(latin1_bundle().items()))
    assert 'encoding="UTF-8"' in files["two_step.bpmn"] and "Prüfung für Qualitätsmanager" in files["two_step.bpmn"]
    lib = problems(files)
    assert lib.ok
    assert lib.processes["two_step"].spec.task_specs["ask"].bpmn_name == "Prüfung für Qualitätsmanager"


def test_the_shipped_directories_are_read_in_their_declared_encoding(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "f").mkdir()
    for name, data in latin1_bundle().items():
        (tmp_path / ("p" if name.endswith(".bpmn") else "f") / name).write_bytes(data)
    files = read_directories(tmp_path / "p", tmp_path / "f")
    assert load_library(files).processes["two_step"].spec.task_specs["ask"].bpmn_name.startswith("Prüfung")


@pytest.mark.parametrize("data", [
    codecs.BOM_UTF8 + two_step()["two_step.bpmn"].encode(),
    two_step()["two_step.bpmn"].replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
    two_step()["two_step.bpmn"].replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16-le"),
    two_step()["two_step.bpmn"].replace('encoding="UTF-8"', 'encoding="windows-1252"').encode("cp1252"),
])
def test_byte_order_marks_and_declared_encodings_are_read(data):
    assert problems({"two_step.bpmn": decode_file("two_step.bpmn", data), "simple.json": SIMPLE_FORM}).ok


@pytest.mark.parametrize("name, data, words", [
    ("empty.bpmn", b"", "'empty.bpmn' is empty"),
    ("bom.bpmn", codecs.BOM_UTF16_LE, "'bom.bpmn' is empty"),
    ("picture.bpmn", bytes(range(256)) * 4, "'picture.bpmn' is a binary file, not an XML diagram"),
    ("form.json", b"\x89PNG\r\n\x1a\n\0\0\0", "'form.json' is a binary file, not a JSON form"),
    ("undeclared.bpmn", "<bpmn:definitions name='Prüfung'/>".encode("latin-1"),
     "'undeclared.bpmn' is not UTF-8 text: byte 26 (0xfc)"),
    ("klingon.bpmn", b'<?xml version="1.0" encoding="klingon"?><x/>', "declares the encoding 'klingon'"),
])
def test_unreadable_files_are_named_in_one_sentence(name, data, words):
    with pytest.raises(InvalidFormData) as info:
        bundle_from_uploads([(name, data)])
    [error] = info.value.errors
    assert words in error["message"] and error["field"] == "/files/0"


@pytest.mark.parametrize("text, words", [
    (two_step()["two_step.bpmn"].replace(
        "<bpmn:definitions", '<!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<bpmn:definitions')
     .replace('name="Compute"', 'name="&e;"'), "DTDs and entities are not allowed"),
    ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
     "DTDs and entities are not allowed"),
    (two_step()["two_step.bpmn"].replace('name="Compute"', 'name="' + "x" * 200_000 + '"'),
     "the attribute name of <scriptTask> is 200,000 characters long (limit 10,000)"),
    ("<html><body>a web page</body></html>", "not a BPMN 2.0 diagram: its root element is <html>"),
    ('{"a": 1}', "XML is not well-formed"),
])
def test_odd_xml_is_refused_naming_the_file(text, words):
    lib = problems({"odd.bpmn": text, "simple.json": SIMPLE_FORM})
    [error] = lib.errors
    assert words in error.message and error.file == "odd.bpmn"
    assert "root:" not in error.message  # the external entity was never read


# -- (e) a long chain ----------------------------------------------------------------------------------------

def chain_bundle(n: int = 500, kind: str = "script") -> dict[str, str]:
    body, ids = '<bpmn:startEvent id="start"/>' + user_task("ask", "Ask", "simple.json"), ["start", "ask"]
    for i in range(n):
        body += (f'<bpmn:scriptTask id="s{i}" name="Step {i}"><bpmn:script>steps = {i + 1}</bpmn:script>'
                 f'</bpmn:scriptTask>')
        ids.append(f"s{i}")
    body += '<bpmn:endEvent id="end" name="Done"/>'
    ids.append("end")
    body += "".join(flow(f"f{i}", a, b) for i, (a, b) in enumerate(zip(ids, ids[1:])))
    return {"chain.bpmn": process("chain", {"applicant": ids}, body), "simple.json": SIMPLE_FORM}


def test_a_chain_of_500_tasks_validates_deploys_and_runs(engine, actors):
    assert problems(chain_bundle()).ok
    engine.deploy(chain_bundle(), deployed_by="qm")
    case = engine.start_case("chain", actors["applicant"], "lab-a")
    done = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert done.status == "completed" and done.data["steps"] == 500


def test_a_chain_too_long_to_read_is_one_clear_error():
    [error] = problems(chain_bundle(3000)).errors
    assert error.element_id == "chain" and "too long for the engine to read in one piece" in error.message


# -- (f) timers quote their value ----------------------------------------------------------------------------

@pytest.mark.parametrize("expression, words", [
    ('"P3 days"', "timer 'Deadline': the value 'P3 days' is not an ISO 8601 date or duration"),
    ('"2026-13-45"', "the value '2026-13-45' is not an ISO 8601 date or duration"),
    ("P3D", 'the expression P3D is Python: quote the ISO 8601 value, e.g. "P3D"'),
    ("due +", "timer 'Deadline', expression due +: "),
    ('"P99999999999M"', "(value 'P99999999999M')"),
])
def test_timer_problems_at_validation_quote_the_expression_or_value(expression, words):
    bundle = timer_bundle()
    bundle["deadline.bpmn"] = bundle["deadline.bpmn"].replace('"P3D"', expression)
    [error] = [p for p in problems(bundle).errors if p.element_id == "lapse"]
    assert words in error.message, error.message


def test_a_timer_value_computed_at_run_time_that_does_not_parse_is_quoted(engine, actors):
    bundle = timer_bundle()
    bundle["deadline.bpmn"] = bundle["deadline.bpmn"].replace('"P3D"', 'str(business_key) + " days"')
    engine.deploy(bundle)
    with pytest.raises(ProcessError) as info:
        engine.start_case("deadline", actors["applicant"], "lab-a", business_key="LAB-7")
    assert info.value.details["element_id"] == "lapse"
    assert info.value.message.startswith("timer 'Deadline': the expression str(business_key) + \" days\" gave "
                                         "'LAB-7 days': it is not an ISO 8601 date or duration")


def test_camunda_properties_are_named_as_not_read():
    """Camunda Modeler's properties panel writes camunda:properties, which the engine never reads: a form named
    there would silently do nothing, so each is a warning saying what to write instead."""
    task = ('<bpmn:task id="Activity_1" name="Review"><bpmn:extensionElements><camunda:properties>'
            '<camunda:property name="formJsonSchemaFilename" value="review.json"/>'
            '<camunda:property name="colour" value="red"/>'
            '</camunda:properties></bpmn:extensionElements></bpmn:task>')
    text = camunda(task)
    lib = problems({"review.bpmn": text})
    warnings = [p for p in lib.problems if p.severity == "warning" and "Camunda property" in p.message]
    assert [(w.element_id, w.file) for w in warnings] == [("Activity_1", "review.bpmn")] * 2
    assert "write it as spiffworkflow:property formJsonSchemaFilename" in warnings[0].message
    assert "'colour'" in warnings[1].message and "no effect" in warnings[1].message
    assert warnings[0].line == text[:text.index('name="formJsonSchemaFilename"')].count("\n") + 1
