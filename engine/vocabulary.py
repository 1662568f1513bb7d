"""The words the diagrams and the engine share: the roles, and the diagram properties the engine reads.

Everything that reads or checks them uses this one declaration: validation (:mod:`engine.definitions.validation_properties`
checks every ``spiffworkflow:property`` of every element against :data:`PROPERTIES`), the engine's readers (the
constants below, never a string literal), access (the role sets), the API's schemas (``OneOf(ROLES)``), the
studio's properties panel (``GET /api/definitions/vocabulary``) and the docs test (docs/process-conventions.md
documents exactly these properties). Adding a property means adding it here first.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# -- roles -----------------------------------------------------------------------------------------------------

APPLICANT, COORDINATOR, INSPECTOR, COMMITTEE = "applicant", "coordinator", "inspector", "committee"
QUALITY_MANAGER, AUDITOR, ADMIN = "quality_manager", "auditor", "admin"
#: Every role of PROCESS.md (what an account may hold).
ROLES = (APPLICANT, COORDINATOR, INSPECTOR, COMMITTEE, QUALITY_MANAGER, AUDITOR, ADMIN)
#: The roles that act on cases: a lane of a diagram names one of them.
LANE_ROLES = (APPLICANT, COORDINATOR, INSPECTOR, COMMITTEE)
#: Roles that read every case and everything in it (the others read their organisation's or team's cases,
#: minus what is not shared with them).
STAFF_ROLES = frozenset({COORDINATOR, COMMITTEE, AUDITOR, QUALITY_MANAGER, ADMIN})
#: Roles that only read.
READ_ONLY_ROLES = frozenset({AUDITOR})

# -- diagram properties (``spiffworkflow:properties``) --------------------------------------------------------

FORM = "formJsonSchemaFilename"
UI_FORM = "formUiSchemaFilename"
ASSIGNEE = "assignee"
PRIORITY = "priority"
SEPARATE_FROM = "separateFrom"
SHARE_WITH = "shareWith"
SHARE_VARIABLES = "shareVariables"
SHOW_FORMS = "showForms"
STAFF_ONLY_VARIABLES = "staffOnlyVariables"
SIGNATURE_MEANING = "signatureMeaning"
CASE_TEAM = "caseTeam"
REVOKES_MEMBERSHIP_IF = "revokesMembershipIf"
CALLED_ONLY = "calledOnly"
SENT_BY = "sentBy"
SCHEDULE_KIND = "scheduleKind"

#: What a completed signature attests (``signatureMeaning``).
SIGNATURE_MEANINGS = ("approval", "review", "authorship")

#: Element groups (BPMN tag names) properties may sit on.
PERSON_TASKS = ("userTask", "manualTask", "task")
ACTIVITIES = PERSON_TASKS + ("scriptTask", "businessRuleTask", "sendTask", "receiveTask", "callActivity",
                             "subProcess")
CATCH_EVENTS = ("intermediateCatchEvent", "boundaryEvent")
FORM_ELEMENTS = PERSON_TASKS + ("startEvent", "receiveTask") + CATCH_EVENTS

#: Value formats, each with the words a message uses for it.
FORMATS = {
    "form": "a JSON file name (e.g. decision.json)",
    "expression": "a Python expression on the task data",
    "integer": "an integer",
    "boolean": "true or false",
    "names": "comma-separated variable names",
    "roles": "comma-separated roles",
    "element ids": "comma-separated element ids",
    "choice": "one of the listed values",
    "word": "a word (letters, digits, _ and -)",
    "show forms": "comma-separated form files, variables, or variable:form.json",
}


#: what an "integer" property may hold: the column it is stored in (the inbox's priority) is a 32-bit INTEGER on
#: PostgreSQL (SQLite and Python would take more; PostgreSQL refuses the row)
INTEGER_RANGE = (-2**31, 2**31 - 1)


@dataclass(frozen=True)
class Property:
    name: str
    elements: tuple[str, ...]  # BPMN tag names it may sit on
    format: str  # a key of FORMATS
    description: str  # one line
    choices: tuple[str, ...] = ()  # for format "choice"

    def value_problem(self, value: str) -> str | None:
        """Why ``value`` is not of this property's format (None: it is). Expressions are linted elsewhere
        (under the sandbox); references (forms, ids, variables) are checked against the bundle elsewhere."""
        v = value.strip()
        items = [x.strip() for x in v.split(",")]
        if self.format == "form":
            return None if re.fullmatch(r"[\w.-]+\.json", v) else "is not a JSON file name"
        if self.format == "integer":
            if not re.fullmatch(r"[+-]?\d+", v):
                return "is not an integer"
            low, high = INTEGER_RANGE  # (a digit count first: int() of thousands of digits raises)
            digits = v.lstrip("+-").lstrip("0")
            return None if len(digits) <= 10 and low <= int(v) <= high else f"is outside {low}…{high}"
        if self.format == "boolean":
            return None if v.lower() in ("true", "false") else "is not true or false"
        if self.format == "choice":
            return None if v in self.choices else f"is not one of {', '.join(self.choices)}"
        if self.format == "word":
            return None if re.fullmatch(r"[\w-]+", v) else "is not a single word"
        if self.format == "names":
            bad = [x for x in items if x and not x.isidentifier()]
            return f"names {bad[0]!r}, which is not a variable name" if bad else None
        if self.format == "element ids":
            bad = [x for x in items if x and not re.fullmatch(r"[\w.-]+", x)]
            return f"names {bad[0]!r}, which is not an element id" if bad else None
        if self.format == "roles":
            bad = [x for x in items if x and x not in ROLES]
            return f"names {bad[0]!r}, which is not a role (roles: {', '.join(ROLES)})" if bad else None
        if self.format == "show forms":
            for item in filter(None, items):
                variable, colon, form = item.partition(":")
                ok = (variable.isidentifier() and form.endswith(".json")) if colon else \
                    (item.endswith(".json") or item.isidentifier())
                if not ok:
                    return f"names {item!r}, which is neither a form file, a variable nor variable:form.json"
            return None
        return None if v else "is empty"

    def to_dict(self) -> dict:
        out = {"name": self.name, "elements": list(self.elements), "where": elements_text(self),
               "format": self.format,
               "format_text": FORMATS[self.format], "description": self.description}
        if self.choices:
            out["choices"] = list(self.choices)
        return out


PROPERTIES: dict[str, Property] = {p.name: p for p in (
    Property(FORM, FORM_ELEMENTS, "form",
             "the JSON Schema (in forms/) the submitted data must satisfy: the form of a task, start or message"),
    Property(UI_FORM, FORM_ELEMENTS, "form", "the UI schema (layout hints, in forms/) of the form"),
    Property(ASSIGNEE, PERSON_TASKS, "expression", "the username that must do this task, computed from the task data"),
    Property(PRIORITY, PERSON_TASKS, "integer", "higher is more urgent in the inbox; default 0"),
    Property(SEPARATE_FROM, PERSON_TASKS, "element ids",
             "user tasks whose completer in this case may not complete this one"),
    Property(SHARE_WITH, ACTIVITIES, "roles",
             "roles besides staff and the task's lane that may read the data of this task"),
    Property(SHARE_VARIABLES, ACTIVITIES, "names", "variables this task computes that shareWith shares"),
    Property(SHOW_FORMS, PERSON_TASKS, "show forms",
             "earlier forms and case variables shown read-only above the task's form"),
    Property(STAFF_ONLY_VARIABLES, ACTIVITIES, "names", "variables only staff may ever read"),
    Property(SIGNATURE_MEANING, PERSON_TASKS, "choice",
             "completing the task is an electronic signature with this meaning", SIGNATURE_MEANINGS),
    Property(CASE_TEAM, ACTIVITIES + ("startEvent",), "names",
             "variables naming the people who are the case's team when the element completes"),
    Property(REVOKES_MEMBERSHIP_IF, PERSON_TASKS, "expression",
             "when true on completion, the person the task was for leaves the case's team"),
    Property(CALLED_ONLY, ("startEvent",), "boolean", "true: the process is only ever called, never started alone"),
    Property(SENT_BY, CATCH_EVENTS + ("receiveTask",), "roles",
             "roles that may send this message into their waiting case (the start page offers it)"),
    Property(SCHEDULE_KIND, CATCH_EVENTS + ("startEvent",), "word", "the timer's name in the schedule"),
)}


#: Names of element groups, for messages and the docs (the largest group first).
ELEMENT_GROUPS = (("activities", ACTIVITIES), ("person tasks", PERSON_TASKS), ("catch events", CATCH_EVENTS))


def elements_text(prop: Property) -> str:
    """Where a property may sit, in words: ``person tasks, start events``."""
    left, words = list(prop.elements), []
    for name, group in ELEMENT_GROUPS:
        if all(t in left for t in group):
            words.append(name)
            left = [t for t in left if t not in group]
    words += [re.sub(r"(?<=[a-z])(?=[A-Z])", " ", t).lower() + "s" for t in left]
    return ", ".join(words)


def split_list(value: str | None) -> list[str]:
    """The items of a comma-separated property value, stripped, empty ones left out."""
    return [x.strip() for x in (value or "").split(",") if x.strip()]


def vocabulary() -> dict:
    """The roles and properties as data (for the studio's properties panel)."""
    return {"roles": list(ROLES), "lane_roles": list(LANE_ROLES),
            "properties": [p.to_dict() for p in PROPERTIES.values()]}
