"""Checks read from a BPMN file's XML, before the engine's parser sees it: which processes will be deployed, and
whether every element of them is one the engine can run.

Diagrams drawn in other modelers (Camunda Modeler, bpmn.io, Signavio) carry elements that parse but that this
engine cannot run — a service task, a complex gateway, a transaction, a data store — or omit what it needs (a
message, a decision, a time). Each is refused here with its type, name, id and line in plain words, instead of
the parser's own message (or none at all, and a case that would wait forever).

The engine runs: start, end, intermediate and boundary events (none, message, timer, error, escalation,
terminate, link; signals thrown in the library), user, manual and plain tasks (done by people), script tasks,
business rule tasks naming a decision, send and receive tasks naming a message, call activities, embedded and
event sub-processes, exclusive, inclusive, parallel and event-based gateways, multi-instance and standard loops,
data objects of the process.
"""
from __future__ import annotations

from lxml import etree

from .validation import BPMN_NS, Problem, type_words

_B = f"{{{BPMN_NS}}}"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"

#: the BPMN flow nodes the engine runs (each is one SpiffWorkflow's parser reads, with what the engine needs)
RUNS = frozenset({
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "task", "userTask", "manualTask", "scriptTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "subProcess",
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
})
#: every flow node of BPMN 2.0 (the schema admits no other): what is not in RUNS is refused
FLOW_NODES = RUNS | {"serviceTask", "transaction", "adHocSubProcess", "complexGateway", "implicitThrowEvent",
                     "choreographyTask", "subChoreography", "callChoreography"}
#: the event definitions the engine runs; the others of BPMN 2.0 are in UNSUPPORTED_EVENTS
RUNS_EVENTS = frozenset({"messageEventDefinition", "timerEventDefinition", "errorEventDefinition",
                         "escalationEventDefinition", "terminateEventDefinition", "linkEventDefinition",
                         "signalEventDefinition"})
#: BPMN elements (inside an executable process) the engine cannot run, and what to do instead
UNSUPPORTED = {
    "serviceTask": "the engine calls no external services; use a script task, or a user task for a person",
    "complexGateway": "use an exclusive, inclusive or parallel gateway",
    "transaction": "transactions (cancel and compensation) are not supported; use a sub-process",
    "adHocSubProcess": "ad-hoc sub-processes are not supported; use a sub-process with a gateway",
    "dataStoreReference": "the engine keeps no data stores; keep the data in the case (a form field or a script "
                          "variable) and remove the data store from the diagram",
    "implicitThrowEvent": "use an intermediate throw event",
    "choreographyTask": "choreographies are not executable",
    "subChoreography": "choreographies are not executable",
    "callChoreography": "choreographies are not executable",
}
#: event definitions the engine cannot run
UNSUPPORTED_EVENTS = {
    "conditionalEventDefinition": "conditional events are not supported (a waiting case never re-checks the "
                                  "condition); use a gateway condition or a message",
    "compensateEventDefinition": "compensation is not supported",
    "cancelEventDefinition": "cancel events belong to transactions, which are not supported",
}
_EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent")
_TIME = ("timeDate", "timeDuration", "timeCycle")


def _label(node) -> str:
    tag = etree.QName(node).localname
    name = (node.get("name") or "").strip()
    return f"{type_words(tag)} '{name}'" if name else f"{type_words(tag)} '{node.get('id')}'"


def executable_processes(root) -> list:
    """The processes of a file the engine deploys (``isExecutable`` not false)."""
    return [p for p in root.iter(f"{_B}process") if (p.get("isExecutable") or "true").strip().lower() != "false"]


def decision_ids(root) -> set[str]:
    """The decisions a DMN file defines (any DMN version's namespace)."""
    return {n.get("id") for n in root.iter() if isinstance(n.tag, str) and etree.QName(n).localname == "decision"
            and n.get("id")}


def check_file(file_name: str, root, lib, called: set[str], decisions: set[str] | None = None) -> None:
    """Everything of one BPMN file the engine cannot run, and a warning when it deploys nothing.

    ``called``: process ids some call activity of the bundle names (a process only called is not idle);
    ``decisions``: the DMN decisions of the bundle (None: not checked)."""
    if etree.QName(root).localname != "definitions" or etree.QName(root).namespace != BPMN_NS:
        lib.problems.append(Problem("error", f"the file is not a BPMN 2.0 diagram: its root element is "
                                             f"<{etree.QName(root).localname}>, not <bpmn:definitions>",
                                    file_name, line=root.sourceline))
        return
    processes = executable_processes(root)
    if not processes:
        others = [p for p in root.iter(f"{_B}process")]
        if not any(p.get("id") in called for p in others):
            why = (f"its process{'es' if len(others) > 1 else ''} "
                   f"{', '.join(repr(p.get('id')) for p in others)} {'are' if len(others) > 1 else 'is'} marked "
                   f"isExecutable=\"false\"" if others else "it holds no process, at most a collaboration")
            lib.problems.append(Problem("warning", f"no executable process: nothing will be deployed from "
                                                   f"{file_name} ({why})", file_name, line=root.sourceline))
        return
    messages = {m.get("id") for m in root.iter(f"{_B}message")}
    thrown_signals = {d.get("signalRef") for d in root.iter(f"{_B}signalEventDefinition")
                      if d.getparent() is not None and etree.QName(d.getparent()).localname in
                      ("intermediateThrowEvent", "endEvent")}
    for process in processes:
        ids = {n.get("id") for n in process.iter() if isinstance(n.tag, str) and n.get("id")}
        data_objects = {n.get("id") for n in process.iter(f"{_B}dataObject")}
        for node in process.iter():
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                continue
            tag = etree.QName(node).localname

            def refuse(message, at=node):
                lib.problems.append(Problem("error", message, file_name, at.get("id") or None, at.sourceline))

            if (tag in FLOW_NODES and tag not in RUNS) or tag in UNSUPPORTED:
                refuse(f"{_label(node)} cannot run in this engine: "
                       f"{UNSUPPORTED.get(tag, 'the engine does not run this kind of element')}")
            elif tag in UNSUPPORTED_EVENTS:
                event = node.getparent()
                refuse(f"{_label(event)} cannot run in this engine: {UNSUPPORTED_EVENTS[tag]}", event)
            elif tag == "timerEventDefinition" and not any(node.find(f"{_B}{t}") is not None for t in _TIME):
                event = node.getparent()
                refuse(f"{_label(event)} is a timer without a time: give a time date, duration or cycle", event)
            elif tag == "timerEventDefinition" and node.find(f"{_B}timeCycle") is not None \
                    and _cycle_not_honoured(node.getparent()):
                event = node.getparent()
                refuse(f"{_label(event)} waits for a time cycle: the case passes this event once, so the engine "
                       f"cannot repeat it (it would run the path after it once per repetition, side by side); "
                       f"give a time date or duration (a repeating reminder is a non-interrupting boundary timer "
                       f"with a cycle)", event)
            elif tag == "messageEventDefinition":
                event = node.getparent()
                _check_message_ref(refuse, event, node.get("messageRef"), messages, "its message definition")
            elif tag in ("sendTask", "receiveTask"):
                _check_message_ref(refuse, node, node.get("messageRef"), messages, "it")
            elif tag == "businessRuleTask":
                decision = node.find(f"{_B}extensionElements/{{{SPIFF_NS}}}calledDecisionId")
                if decision is None or not (decision.text or "").strip():
                    refuse(f"{_label(node)} names no decision: add spiffworkflow:calledDecisionId with the id of "
                           f"a DMN decision of the library")
                elif decisions is not None and decision.text.strip() not in decisions:
                    known = ", ".join(sorted(decisions)) or "none"
                    refuse(f"{_label(node)} calls decision '{decision.text.strip()}', which no DMN file of the "
                           f"library defines (decisions: {known})")
            elif tag == "signalEventDefinition":
                event = node.getparent()
                if etree.QName(event).localname in ("startEvent", "intermediateCatchEvent", "boundaryEvent") \
                        and node.get("signalRef") not in thrown_signals:
                    refuse(f"{_label(event)} waits for signal '{node.get('signalRef') or ''}', which nothing in "
                           f"{file_name} throws (the engine receives no signals from outside); use a message", event)
            elif tag == "dataObjectReference":
                ref = node.get("dataObjectRef")
                if ref not in data_objects:
                    refuse(f"{_label(node)} refers to data object '{ref or ''}', which the process does not define")
            elif tag in ("dataInputAssociation", "dataOutputAssociation"):
                owner = node.getparent()
                for end in ("sourceRef", "targetRef"):
                    for ref in node.findall(f"{_B}{end}"):
                        target = (ref.text or "").strip()
                        if target and target not in ids:
                            refuse(f"{_label(owner)}: its {type_words(tag)} '{node.get('id') or ''}' points at "
                                   f"'{target}', which is no data object or data store of the process", owner)


def _cycle_not_honoured(event) -> bool:
    """A time cycle repeats where each firing starts something of its own: a boundary event (a branch per
    firing) or the start of an event sub-process (an instance per firing). On an intermediate catch event or
    the start of a process or plain sub-process, SpiffWorkflow forks the one path the case is on."""
    kind = etree.QName(event).localname
    if kind == "intermediateCatchEvent":
        return True
    if kind != "startEvent":
        return False
    parent = event.getparent()
    return not (etree.QName(parent).localname == "subProcess"
                and (parent.get("triggeredByEvent") or "").strip().lower() == "true")


def _check_message_ref(refuse, node, ref, messages, what) -> None:
    if not ref:
        refuse(f"{_label(node)} names no message: {what} needs a messageRef to a <bpmn:message> of the file", node)
    elif ref not in messages:
        refuse(f"{_label(node)} refers to message '{ref}', which the file does not define", node)


def check_call_activities(roots: dict, process_ids: set[str], lib, resolvable_from: str) -> set[str]:
    """Every call activity names a process that exists; the parser alone would not say which element
    calls it or where. Returns the unresolved process ids."""
    unresolved = set()
    for file_name, root in roots.items():
        for node in root.iter(f"{_B}callActivity"):
            called = (node.get("calledElement") or "").strip()
            label = node.get("name") or node.get("id")
            if not called:
                lib.problems.append(Problem("error", f"call activity '{label}' names no process (calledElement)",
                                            file_name, node.get("id"), node.sourceline))
            elif called not in process_ids:
                unresolved.add(called)
                lib.problems.append(Problem(
                    "error", f"call activity '{label}' calls process '{called}', which is not {resolvable_from}",
                    file_name, node.get("id"), node.sourceline))
    return unresolved
