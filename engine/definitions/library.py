"""The process library: validate a bundle of BPMN/DMN/form files as a whole and describe what to deploy.

A *bundle* is a mapping ``{file name: text}`` (read by :mod:`engine.definitions.bundles` from an upload or the shipped
``processes/`` + ``forms/`` directories). Validation reports **every** problem at once, each in plain words
with file, element id and line where there is one, so a quality manager can fix a diagram in one go. Nothing is
deployed unless there are no errors.

Checks, in order: XML well-formed (no DTD) and BPMN-XSD valid; every element of an executable process is one
the engine can run (:mod:`engine.definitions.validation_elements`; a file with no executable process is a warning: nothing
is deployed from it); every process parses (start events, references, call activities); code in the diagrams,
timers, lanes, forms and task properties (:mod:`engine.definitions.validation_diagrams`); forms and DMN tables
(:mod:`engine.definitions.validation_forms`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from .bundles import BPMN, as_utf8_text
from .validation import (
    Problem,
    XmlRefused,
    line_index,
    oversized_attribute,
    parse_xml,
    plain,
    type_words,
)
from .validation_diagrams import check_show_forms, check_spec
from .validation_lengths import too_long_to_store
from .validation_elements import check_call_activities, check_file, decision_ids
from .validation_forms import check_dmn, check_forms
from .validation_properties import check_properties
from engine.vocabulary import FORM, UI_FORM
from engine.workflow.workflow_state import properties


@dataclass
class ProcessVersion:
    """One process of a bundle, ready to deploy."""

    key: str
    name: str
    spec: object
    subprocess_specs: dict
    files: dict[str, str]
    content_hash: str
    start_message: str | None


@dataclass
class Library:
    files: dict[str, str]
    problems: list[Problem] = field(default_factory=list)
    processes: dict[str, ProcessVersion] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def report(self) -> dict:
        return {"valid": self.ok, "errors": [p.to_dict() for p in self.errors],
                "warnings": [p.to_dict() for p in self.warnings],
                "processes": sorted(self.processes)}


def load_library(files: dict[str, str], *, resolvable_from: str = "in the bundle") -> Library:
    """Parse and validate a bundle. Never raises for a bad bundle: problems are in ``library.problems``.

    ``resolvable_from`` only words the error for a call activity whose process is missing (the deployment
    service completes an upload with deployed processes first, and says so)."""
    # stored and parsed as UTF-8: a declaration naming another encoding would be read wrongly later (downloads)
    files = {n: as_utf8_text(t) if n.endswith((".bpmn", ".dmn")) else t for n, t in files.items()}
    lib = Library(files=files)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    lines: dict[str, tuple[str, int]] = {}  # element id -> (file, line)
    roots: dict[str, etree._Element] = {}
    property_problems: list[Problem] = []  # the properties of every BPMN file (engine.definitions.validation_properties)
    bpmn_files = [n for n in files if n.endswith(".bpmn")]
    dmn_files = [n for n in files if n.endswith(".dmn")]
    if not bpmn_files:
        lib.problems.append(Problem("error", "the bundle contains no .bpmn file"))
        return lib

    tags: dict[str, str] = {}  # element id -> BPMN tag (userTask, task, …)
    parsed: dict[str, etree._Element] = {}
    for name in bpmn_files + dmn_files:
        try:
            root = parse_xml(files[name])
            too_long = oversized_attribute(name, root)
            if too_long is not None:
                lib.problems.append(too_long)
                continue
            if name.endswith(".bpmn") and (unstorable := too_long_to_store(name, root)):
                lib.problems += unstorable
                continue
            parsed[name] = root
        except etree.XMLSyntaxError as exc:
            lib.problems.append(Problem("error", f"XML is not well-formed: {exc.msg}", name, line=exc.lineno))
        except XmlRefused as exc:
            lib.problems.append(Problem("error", str(exc), name, line=1))
    called = {(c.get("calledElement") or "").strip() for name, root in parsed.items() if name.endswith(".bpmn")
              for c in root.iter(f"{BPMN}callActivity")}
    decisions = {d for name, root in parsed.items() if name.endswith(".dmn") for d in decision_ids(root)}
    for name, root in parsed.items():
        line_index(name, root, lines, tags)
        if name.endswith(".bpmn"):
            before = len(lib.errors)
            check_file(name, root, lib, called, decisions if not lib.errors else None)
            property_problems += check_properties(name, root)
            if len(lib.errors) != before:
                continue  # named in plain words already: the parser would only repeat it less clearly
            roots[name] = root
        try:
            if name.endswith(".bpmn"):
                parser.add_bpmn_xml(root, filename=name)
            else:
                parser.add_dmn_xml(root, filename=name)
        except ValidationException as exc:
            lib.problems.append(_from_validation(exc, name, lines, tags))
        except Exception as exc:  # the parser's own errors on malformed content
            lib.problems.append(Problem("error", f"the engine cannot read this file: {plain(str(exc))}", name))
    if lib.errors:
        lib.problems += property_problems
        return lib

    forms = check_forms(files, lib)
    for name in dmn_files:
        check_dmn(name, files[name], lib)
    unresolved = check_call_activities(roots, set(parser.get_process_ids()), lib, resolvable_from)
    user_task_ids: set[str] = set()
    specs_by_key = {}
    for key in parser.get_process_ids():
        try:
            spec = parser.get_spec(key)
            subs = parser.get_subprocess_specs(key)
        except (ValidationException, SpiffWorkflowException, RecursionError) as exc:
            if isinstance(exc, RecursionError) or "recursion" in str(exc).lower():
                file_name, line = lines.get(key, (None, None))
                lib.problems.append(Problem("error", f"process '{key}' is too long for the engine to read in one "
                                            "piece (well over a thousand elements in a row); split it into called "
                                            "processes", file_name, key, line))
            elif not any(f"'{u}'" in str(exc) for u in unresolved):  # already named with its element
                lib.problems.append(_from_validation(exc, None, lines, tags))
            continue
        specs_by_key[key] = (spec, subs)
        for s in [spec, *subs.values()]:
            user_task_ids |= {t.bpmn_id for t in s.task_specs.values() if getattr(t, "manual", False)}

    checked_specs: set[str] = set()
    for key, (spec, subs) in specs_by_key.items():
        for s in [spec, *subs.values()]:
            if s.name not in checked_specs:
                checked_specs.add(s.name)
                check_spec(s, lib, lines, forms, user_task_ids, tags)
                check_show_forms(s, lib, lines, forms)
    lib.problems += property_problems
    if lib.errors:
        return lib

    for key, (spec, subs) in specs_by_key.items():
        used = {s.file for s in [spec, *subs.values()] if getattr(s, "file", None)}
        used |= set(dmn_files)
        for s in [spec, *subs.values()]:
            for t in s.task_specs.values():
                props = properties(t)
                used |= {props[p] for p in (FORM, UI_FORM) if props.get(p)}
        version_files = {n: files[n] for n in sorted(used) if n in files}
        digest = hashlib.sha256()
        for n, text in version_files.items():
            digest.update(n.encode() + b"\0" + hashlib.sha256(text.encode()).digest())
        lib.processes[key] = ProcessVersion(
            key=key, name=spec.description or key, spec=spec, subprocess_specs=subs,
            files=version_files, content_hash=digest.hexdigest(), start_message=_start_message(spec))
    return lib


# -- helpers -------------------------------------------------------------------------------------------

def _from_validation(exc, file_name, lines, tags) -> Problem:
    """The parser's message in plain words, starting with the element it is about (type and id)."""
    element = getattr(exc, "id", None) or None
    file_name = getattr(exc, "file_name", None) or file_name
    line = getattr(exc, "line_number", None) or None
    if element and element in lines and not line:
        file_name, line = file_name or lines[element][0], lines[element][1]
    msg = plain(str(exc).splitlines()[0]) if str(exc).strip() else "the engine cannot read this element"
    if element and element in tags and f"'{element}'" not in msg:
        msg = f"{type_words(tags[element])} '{element}': {msg[:1].lower()}{msg[1:]}"
    return Problem("error", msg, file_name or None, element, int(line) if line else None)


def _start_message(spec) -> str | None:
    starts = getattr(spec, "bpmn_start_events", [])
    if starts and all(isinstance(getattr(s, "event_definition", None), MessageEventDefinition) for s in starts):
        return starts[0].event_definition.name
    return None
