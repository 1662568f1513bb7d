"""Case data reads back as it was written, whatever its shape (engine/workflow/case_data.py).

SpiffWorkflow's serializer reads any dict with a ``typename`` key as one of its typed values. Case data that held
such a dict — from a form, a message payload, start data or a script — was read back as an object of that name,
or made every later load of the case fail (an unknown name, a malformed value, an internal type): the case was
lost to its users, every request on it a 500.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
import sqlalchemy as sa

from engine.storage.models import Case
from engine.workflow import case_data
from engine.workflow.serialization import StateSerializer

from .bpmn_builder import two_step

HOSTILE = {
    "unknown_type": {"typename": "nope"},
    "malformed_date": {"typename": "date", "value": "not a date"},
    "internal_type": {"typename": "Task", "id": "00000000-0000-0000-0000-000000000000"},
    "looks_like_a_date": {"typename": "date", "value": "2020-01-02"},
    "our_own_wrapper": {"typename": "accredit.dict", "items": {"a": 1}},
    "typename_not_a_string": {"typename": ["date"], "value": 1},
    "nested": [{"deeper": {"typename": "Decimal", "value": "1e999999"}}, "plain", 3],
}


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_start_data_holding_a_typename_dict_reads_back_as_it_was_and_the_case_goes_on(engine, actors, key):
    engine.deploy(two_step())
    data = {key: HOSTILE[key]}
    case = engine.start_case("two_step", actors["applicant"], "lab-a", data)
    again = engine.get_case(case.id)  # before: TypeError / ValueError on every load of the case
    assert again.data[key] == HOSTILE[key]
    assert json.dumps(again.data[key]) == json.dumps(HOSTILE[key])  # a dict, not a date or a Task
    done = engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})
    assert [t.element_id for t in done.tasks] == ["review"]  # the case went on
    assert done.data[key] == HOSTILE[key]


def test_typed_values_inside_a_wrapped_dict_keep_their_types():
    serializer = StateSerializer()
    registry = serializer.registry
    value = {"typename": "mine", "when": date(2021, 3, 4), "amount": Decimal("12.50"),
             "at": datetime(2021, 3, 4, 5, 6, 7, tzinfo=timezone.utc), "for": timedelta(days=2),
             "id": UUID("12345678-1234-5678-1234-567812345678"), "list": [{"typename": 1}, date(2020, 1, 1)]}
    written = case_data.escape(value)
    assert written["typename"] == case_data.WRAPPED and value["typename"] == "mine"  # the caller's dict untouched
    text = json.dumps(written, cls=serializer._serializer._encoder_cls)
    assert case_data.restore(json.loads(text), registry.convert_from_dict) == value


def test_data_without_a_typename_key_is_written_as_it_is_not_copied():
    value = {"a": [1, {"b": "c"}], "d": {"e": None}}
    assert case_data.escape(value) is value


def test_a_state_written_before_the_wrapping_with_a_bad_typename_dict_still_loads(engine, actors):
    """States stored before this fix may hold a raw ``{"typename": …}`` of case data: read as the dict it is."""
    engine.deploy(two_step())
    case = engine.start_case("two_step", actors["applicant"], "lab-a", {"note": "x"})
    with engine.db.write() as s:
        row = s.get(Case, case.id)
        state = row.state.replace('"note":"x"', '"note":{"typename":"nope","v":1}')
        assert state != row.state
        s.execute(sa.update(Case).where(Case.id == case.id).values(state=state))
    assert engine.get_case(case.id).data["note"] == {"typename": "nope", "v": 1}


def test_a_message_payload_holding_typename_dicts_reaches_the_case_as_it_was(engine, actors):
    from .test_messages_timers import linked_bundle

    engine.deploy(linked_bundle())
    case = engine.start_case("parent", actors["applicant"], "lab-a")
    engine.complete_task(case.tasks[0].id, actors["applicant"], {"answer": "yes"})  # now waits for child_done
    payload = {"result": {"typename": "Task", "x": 1}, "when": {"typename": "date", "value": "nope"}}
    assert engine.deliver_message("child_done", payload, organisation_id="lab-a") == [case.id]
    assert engine.get_case(case.id).data["reply"] == payload
    # a process a message starts: the payload travels as the start event's
    child = engine.start_case("child", actors["coordinator"], "lab-a", payload)
    assert engine.get_case(child.id).data["trigger"] == payload


def test_history_data_holds_no_number_json_cannot_hold():
    """What the engine itself records (a value a caller passed in-process) is stored as the JSON token's text:
    PostgreSQL's JSON columns refuse NaN and Infinity."""
    from engine.records.history import jsonable

    assert jsonable({"x": [float("nan"), float("inf"), -float("inf"), 1.5]}) == {"x": ["NaN", "Infinity",
                                                                                       "-Infinity", 1.5]}
