"""The values diagram code may hand back are those the API can answer with and the database can store: every
path of an expression (a constant or a name, checked in this process; anything else, in a worker) and every
script refuses a timedelta, a time of day, a date and time at the edge of the range and a text with a lone
surrogate — DMN output entries and timer expressions are expressions, so these are their paths too."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from engine.sandbox import NonJsonData
from engine.sandbox.environment import IsolatedEnvironment

BAD = [
    ('"a\\ud800"', "lone surrogate"),
    ("{'k': '\\udc00'}", "lone surrogate"),
    ("{'\\udc00': 1}", "key that is a text with a lone surrogate"),
    ("timedelta(days=1)", "timedelta"),
    ("[time_of_day]", "time of day"),
    ("datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))", "outside the range"),
]


@pytest.fixture
def env():
    return IsolatedEnvironment(), {"time_of_day": time(9, 30)}


@pytest.mark.parametrize("expression, words", BAD)
def test_an_expression_handing_back_an_unstorable_value_is_refused(env, expression, words):
    environment, context = env
    with pytest.raises(NonJsonData) as info:
        environment.evaluate(expression, dict(context))
    assert words in str(info.value), str(info.value)


@pytest.mark.parametrize("expression, words", BAD)
def test_a_script_leaving_an_unstorable_value_is_refused(env, expression, words):
    environment, _context = env
    with pytest.raises(NonJsonData) as info:
        environment.execute(f"from_script = {expression.replace('[time_of_day]', 'datetime(2027, 1, 1).time()')}",
                            {})
    assert words in str(info.value) and "from_script" in str(info.value), str(info.value)


def test_a_name_holding_a_lone_surrogate_is_refused_in_process(env):
    environment, _context = env
    with pytest.raises(NonJsonData):
        environment.evaluate("x", {"x": "\ud800"})


def test_plain_values_pass(env):
    environment, _context = env
    value = environment.evaluate("[d, dt, 'café 😀', 1.5]", {"d": date(2027, 1, 31),
                                                              "dt": datetime(2027, 1, 31, tzinfo=timezone.utc)})
    assert value == [date(2027, 1, 31), datetime(2027, 1, 31, tzinfo=timezone.utc), "café 😀", 1.5]
    assert environment.evaluate("(d - date(2027, 1, 1)).days", {"d": date(2027, 1, 31)}) == 30
