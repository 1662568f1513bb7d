"""Values of diagram code that SpiffWorkflow turns into work *outside* the sandbox, checked first.

A timer expression's value is parsed and computed by SpiffWorkflow in the engine's own thread, outside the
engine's error handling: ``"P99999999999M"`` makes ``get_timedelta_from_start`` loop once per month — for
hours; ``"PT100000000H"`` overflows the date range, ``"P0.5Y"`` fails in ``calendar``, a date as a duration
raises a bare ``Exception``, a number where a string belongs an ``AttributeError`` — each one a crash at every
case start. So :func:`timer_value_problem` does SpiffWorkflow's own computation for the timer's kind, on a
value bounded first, and says why a value cannot be used (the same check at deploy, for a literal value, and at
run time, for a computed one). A multi-instance cardinality of ``10**9`` creates a billion tasks. Both are
refused here, naming the element, before SpiffWorkflow sees them.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)

from .errors import SandboxViolation

#: Longest timer value (characters) and furthest duration (months) a timer may use.
MAX_TIMER_TEXT = 200
MAX_TIMER_MONTHS = 12 * 1000
#: Most repetitions a cycle timer may ask for ("R/…", unbounded, is allowed).
MAX_TIMER_CYCLES = 100_000
#: Earliest and latest moment (UTC) a timer may name: far from the edges of Python's date range, so a due
#: date plus any bounded duration (or any time zone) stays a date.
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)
#: Most instances a multi-instance activity may create from a cardinality.
MAX_INSTANCES = 1000

_MAX_DAYS = MAX_TIMER_MONTHS * 31
_DAYS_PER = {"years": 366, "months": 31, "weeks": 7, "days": 1, "hours": 1 / 24, "minutes": 1 / 1440,
             "seconds": 1 / 86400}
_DATE_OR_DURATION = 'it is not an ISO 8601 date or duration, e.g. "2026-03-01T09:00:00Z" or "P30D"'
_WANTED = {"date": _DATE_OR_DURATION, "duration": _DATE_OR_DURATION,
           "cycle": 'it is not an ISO 8601 repeating interval, e.g. "R3/P1D"'}

_OUTSIDE = f"timer date {{text!r}} is outside the years {EARLIEST.year} to {LATEST.year}"


class _Unusable(Exception):
    """Why a timer value cannot be used."""


def timer_kind(event_definition) -> str:
    """``"date"``, ``"duration"`` or ``"cycle"``: how SpiffWorkflow reads the timer's value."""
    if isinstance(event_definition, CycleTimerEventDefinition):
        return "cycle"
    return "date" if isinstance(event_definition, TimeDateEventDefinition) else "duration"


def timer_value_problem(value: Any, kind: str) -> str | None:
    """Why a timer value of this kind (see :func:`timer_kind`) cannot be used (None if it can)."""
    if not isinstance(value, str):
        what = {"date": "date (e.g. with .isoformat())", "cycle": "repeating interval"}.get(kind, "duration")
        return f"it is {type(value).__name__}, not a text: write the {what} as an ISO 8601 string"
    if len(value) > MAX_TIMER_TEXT:
        return f"timer value is {len(value)} characters long (limit {MAX_TIMER_TEXT})"
    try:
        if kind == "cycle":
            _cycle(value)
        elif kind == "date":
            _moment(value)
        else:
            _duration(value)
    except _Unusable as exc:
        return str(exc)
    return None


def unparsable(problem: str | None) -> bool:
    """Whether ``problem`` (from :func:`timer_value_problem`) says the value is not in ISO 8601 form."""
    return bool(problem) and problem.startswith("it is not an ISO 8601")


def _parse(call, text: str, kind: str):
    try:
        return call(text)
    except OverflowError as exc:  # a date at the very edge of the range, moved to UTC
        raise _Unusable(_OUTSIDE.format(text=text)) from exc
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises bare Exceptions for malformed values
        raise _Unusable(_WANTED[kind]) from exc


def _duration(text: str) -> timedelta:
    """SpiffWorkflow's reading of a duration (``DurationTimerEventDefinition.has_fired``), bounded first."""
    if not text.upper().startswith("P"):
        _parse(TimerEventDefinition.parse_time_or_duration, text, "duration")
        raise _Unusable(f"{text!r} is a date, but this timer waits for a duration: use a time date, or a "
                        f"duration such as \"P30D\"")
    parsed = _parse(TimerEventDefinition.parse_iso_duration, text, "duration")
    for unit in ("years", "months"):
        if isinstance(parsed.get(unit), float):
            raise _Unusable(f"timer duration {text!r} has a fraction of {unit[:-1]} (the length of a "
                            f"{unit[:-1]} varies): use whole {unit}, or days")
    try:
        days = sum(float(amount) * _DAYS_PER[unit] for unit, amount in parsed.items())
    except OverflowError:
        days = float("inf")
    if days > _MAX_DAYS:
        raise _Unusable(f"timer duration {text!r} is longer than {MAX_TIMER_MONTHS // 12} years")
    try:
        return TimerEventDefinition.get_timedelta_from_start(dict(parsed), datetime.now(timezone.utc))
    except Exception as exc:  # noqa: BLE001 - whatever SpiffWorkflow cannot compute is refused, not crashed on
        raise _Unusable(f"timer duration {text!r} cannot be computed ({type(exc).__name__})") from exc


def _moment(text: str) -> datetime:
    """SpiffWorkflow's reading of a date (``TimeDateEventDefinition.has_fired``), within the timer range."""
    if text.upper().startswith("P"):
        raise _Unusable(f"{text!r} is a duration, but this timer waits for a date: use a time duration, "
                        f"or a date such as \"2026-03-01T09:00:00Z\"")
    moment = _parse(TimerEventDefinition.parse_time_or_duration, text, "date")
    _in_range(moment, text)
    return moment


def _in_range(moment: datetime, text: str) -> None:
    if not EARLIEST <= moment <= LATEST:
        raise _Unusable(_OUTSIDE.format(text=text))


def _cycle(text: str) -> None:
    """SpiffWorkflow's reading of a repeating interval (``CycleTimerEventDefinition.cycle_complete``), each
    part bounded as above, the period positive."""
    parts = text.upper().replace("--", "/").strip("R").split("/")
    if len(parts) not in (2, 3) or not (parts[0] == "" or parts[0].isdigit()):
        raise _Unusable(_WANTED["cycle"])
    if parts[0] and int(parts[0]) > MAX_TIMER_CYCLES:
        raise _Unusable(f"timer cycle {text!r} repeats more than {MAX_TIMER_CYCLES:,} times")
    for part in parts[1:]:  # each part as the timer of its kind would read it
        if part.startswith("P"):
            _duration(part)
        else:
            _in_range(_parse(TimerEventDefinition.parse_time_or_duration, part, "cycle"), part)
    try:
        _cycles, start, period = TimerEventDefinition.parse_iso_recurring_interval(text)
    except Exception as exc:  # noqa: BLE001 - bare Exceptions for malformed values, OverflowError at the edges
        raise _Unusable(_WANTED["cycle"]) from exc
    if period <= timedelta(0):
        raise _Unusable(f"timer cycle {text!r} has no period: it would fire on every look at the case")
    _in_range(start, text)


def check_result(task: Any, expression: str, value: Any) -> Any:
    """Refuse a timer value or multi-instance cardinality SpiffWorkflow would choke on."""
    spec = getattr(task, "task_spec", None)
    event = getattr(spec, "event_definition", None)
    if isinstance(event, TimerEventDefinition) and getattr(event, "expression", None) == expression:
        problem = timer_value_problem(value, timer_kind(event))
        if problem:
            shown = value if not isinstance(value, str) or len(value) <= 60 else value[:60] + "…"
            if not isinstance(shown, (str, int, float, bool, type(None))):
                shown = type(shown).__name__
            raise SandboxViolation(f"timer '{getattr(spec, 'bpmn_name', None) or getattr(spec, 'bpmn_id', '')}': "
                                   f"the expression {expression.strip()} gave {shown!r}: {problem}")
    if getattr(spec, "cardinality", None) == expression and isinstance(value, int) and value > MAX_INSTANCES:
        raise SandboxViolation(f"multi-instance cardinality {value} exceeds the sandbox limit of {MAX_INSTANCES}")
    return value
