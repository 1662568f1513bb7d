"""Values of diagram code that SpiffWorkflow turns into work *outside* the sandbox, checked first.

A timer expression's value is parsed by SpiffWorkflow in the engine's own thread: ``"P99999999999M"`` makes
``get_timedelta_from_start`` loop once per month — for hours. A multi-instance cardinality of ``10**9``
creates a billion tasks. Both are refused here, naming the element, before SpiffWorkflow sees them.
"""
from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition

from .errors import SandboxViolation

#: Longest timer value (characters) and furthest duration (months) a timer may use.
MAX_TIMER_TEXT = 200
MAX_TIMER_MONTHS = 12 * 1000
#: Most instances a multi-instance activity may create from a cardinality.
MAX_INSTANCES = 1000


def timer_value_problem(value: Any, cycle: bool = False) -> str | None:
    """Why a timer value cannot be used (None if it can)."""
    if not isinstance(value, str):
        return None  # datetimes / other types: SpiffWorkflow's own checks apply
    if len(value) > MAX_TIMER_TEXT:
        return f"timer value is {len(value)} characters long (limit {MAX_TIMER_TEXT})"
    parts = value.upper().replace("--", "/").strip("R").split("/") if cycle else [value]
    for part in parts:
        if not part.upper().startswith("P"):
            continue
        try:
            parsed = TimerEventDefinition.parse_iso_duration(part)
        except Exception:  # noqa: BLE001 - SpiffWorkflow reports malformed values itself
            return None
        months = parsed.get("years", 0) * 12 + parsed.get("months", 0)
        days = parsed.get("days", 0) + parsed.get("weeks", 0) * 7
        if months > MAX_TIMER_MONTHS or days > MAX_TIMER_MONTHS * 31:
            return f"timer duration {part!r} is longer than {MAX_TIMER_MONTHS // 12} years"
    return None


def check_result(task: Any, expression: str, value: Any) -> Any:
    """Refuse a timer value or multi-instance cardinality SpiffWorkflow would choke on."""
    spec = getattr(task, "task_spec", None)
    event = getattr(spec, "event_definition", None)
    if isinstance(event, TimerEventDefinition) and getattr(event, "expression", None) == expression:
        cycle = isinstance(event, CycleTimerEventDefinition)
        problem = timer_value_problem(value, cycle) or _unparsable(value, cycle)
        if problem:
            shown = value if not isinstance(value, str) or len(value) <= 60 else value[:60] + "…"
            raise SandboxViolation(f"timer '{getattr(spec, 'bpmn_name', None) or getattr(spec, 'bpmn_id', '')}': "
                                   f"the expression {expression.strip()} gave {shown!r}: {problem}")
    if getattr(spec, "cardinality", None) == expression and isinstance(value, int) and value > MAX_INSTANCES:
        raise SandboxViolation(f"multi-instance cardinality {value} exceeds the sandbox limit of {MAX_INSTANCES}")
    return value


def _unparsable(value: Any, cycle: bool) -> str | None:
    """Why SpiffWorkflow cannot read a timer's string value (None if it can, or if it is not a string)."""
    if not isinstance(value, str):
        return None
    try:
        if cycle:
            TimerEventDefinition.parse_iso_recurring_interval(value)
        else:
            TimerEventDefinition.parse_time_or_duration(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises bare Exceptions for malformed values
        return ('it is not an ISO 8601 repeating interval, e.g. "R3/P1D"' if cycle
                else 'it is not an ISO 8601 date or duration, e.g. "2026-03-01T09:00:00Z" or "P30D"')
    return None
