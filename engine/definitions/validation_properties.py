"""Every ``spiffworkflow:property`` of a BPMN file checked against the declared vocabulary
(:data:`engine.vocabulary.PROPERTIES`), read from the XML so that each message names the element, the property
and the line it is on:

* a property the engine does not read is a warning (it does nothing), with a *did you mean* for a near miss
  (``showform`` → ``showForms``): a typo would otherwise silently switch a rule off;
* a property on an element the engine does not read it from is an error (``calledOnly`` on a user task);
* a value not of the property's format is an error quoting the value (``priority`` ``"high"``);
* a ``camunda:property`` (Camunda Modeler's properties panel) is a warning: the engine reads only
  ``spiffworkflow:properties``, so e.g. a ``formJsonSchemaFilename`` written there would silently do nothing.

References (forms that exist, variables that are set, expressions that compile) are checked on the parsed
processes by :mod:`engine.definitions.validation_diagrams`.
"""
from __future__ import annotations

import difflib

from lxml import etree

from .validation import BPMN_NS, Problem, type_words
from .validation_elements import SPIFF_NS, executable_processes
from engine.vocabulary import PROPERTIES, elements_text

_LOWER = {name.lower(): name for name in PROPERTIES}
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def _label(node) -> str:
    tag = etree.QName(node).localname
    return f"{type_words(tag)} '{(node.get('name') or '').strip() or node.get('id')}'"


def _owner(prop):
    """The BPMN element a property belongs to (above extensionElements/properties)."""
    node = prop.getparent()
    while node is not None and (etree.QName(node).namespace != BPMN_NS
                                or etree.QName(node).localname == "extensionElements"):
        node = node.getparent()
    return node


def did_you_mean(name: str) -> str | None:
    """The declared property ``name`` is most likely a misspelling of, if any."""
    if name.lower() in _LOWER:
        return _LOWER[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(_LOWER), n=1, cutoff=0.75)
    return _LOWER[close[0]] if close else None


def check_properties(file_name: str, root) -> list[Problem]:
    """The problems of the properties of one BPMN file (the caller reports them after the parser's own, so
    that a bad value does not hide what the parsed processes would show)."""
    problems: list[Problem] = []
    for process in executable_processes(root):
        for prop in process.iter(f"{{{CAMUNDA_NS}}}property"):  # Camunda Modeler's extension: never read
            owner = _owner(prop)
            if owner is not None and etree.QName(prop.getparent()).localname == "properties":
                name = prop.get("name") or ""
                guess = did_you_mean(name)
                problems.append(Problem(
                    "warning", f"{_label(owner)} has the Camunda property '{name}', which the engine does not read: "
                               f"{'write it as spiffworkflow:property ' + guess if guess else 'it has no effect'}",
                    file_name, owner.get("id") or None, prop.sourceline))
        for prop in process.iter(f"{{{SPIFF_NS}}}property"):
            owner = _owner(prop)
            if owner is None:
                continue
            name, value = prop.get("name") or "", prop.get("value") or ""
            tag = etree.QName(owner).localname

            def report(severity, message):
                problems.append(Problem(severity, message, file_name, owner.get("id") or None, prop.sourceline))

            declared = PROPERTIES.get(name)
            if declared is None:
                guess = did_you_mean(name)
                hint = f" (did you mean {guess}?)" if guess else ""
                report("warning", f"{_label(owner)} has the property '{name}', which the engine does not read: it "
                                  f"has no effect{hint}")
                continue
            if tag not in declared.elements:
                report("error", f"{_label(owner)} has the property {name} ({value!r}), which the engine reads only on "
                                f"{elements_text(declared)}: on a {type_words(tag)} it has no effect")
                continue
            problem = declared.value_problem(value)
            if problem:
                report("error", f"{_label(owner)}: the property {name} {value!r} {problem}")
    return problems
