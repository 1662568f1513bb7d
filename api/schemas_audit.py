"""Schemas of the audit console and step-metrics resources (kept apart from api/schemas.py, which others edit)."""
from __future__ import annotations

from .fields import Int64, UtcDateTime
from marshmallow import Schema, fields, validate

from .schemas import ChainHeadSchema, EventSchema


def _when(description: str):
    return UtcDateTime(metadata={"description": description})


class TimelineQuerySchema(Schema):
    page = Int64(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = Int64(load_default=200, validate=validate.Range(min=1, max=1000))
    action = fields.String(validate=validate.Length(max=400),
                           metadata={"description": "comma-separated event types; a trailing * matches a prefix"})
    actor = fields.String(validate=validate.Length(max=200), metadata={"description": "acting username"})
    role = fields.String(validate=validate.Length(max=50), metadata={"description": "role the actor acted in"})
    element_id = fields.String(validate=validate.Length(max=200), metadata={"description": "BPMN element id"})
    since = _when("inclusive, ISO 8601 (UTC if no offset)")
    until = _when("exclusive, ISO 8601 (UTC if no offset)")


class FacetActorSchema(Schema):
    username = fields.String()
    name = fields.String(allow_none=True)


class FacetElementSchema(Schema):
    element_id = fields.String()
    name = fields.String(allow_none=True)


class FacetsSchema(Schema):
    actors = fields.List(fields.Nested(FacetActorSchema))
    roles = fields.List(fields.String())
    actions = fields.List(fields.String())
    elements = fields.List(fields.Nested(FacetElementSchema))


class TimelineSchema(Schema):
    total = Int64(metadata={"description": "events matching the filters"})
    chain_length = Int64(metadata={"description": "events in the whole chain"})
    page = Int64()
    per_page = Int64()
    total_pages = Int64()
    facets = fields.Nested(FacetsSchema, metadata={"description": "the values the filters can take"})
    events = fields.List(fields.Nested(EventSchema))
    case = fields.Dict(metadata={"description": "the case (case timelines only)"})


class AnchorQuerySchema(Schema):
    anchor = fields.String(validate=validate.Length(max=100),
                           metadata={"description": "SEQ:HASH of an earlier head that must still be in the chain"})


class ChainDifferenceSchema(Schema):
    field = fields.String()
    expected = fields.Raw(allow_none=True)
    found = fields.Raw(allow_none=True)
    note = fields.String()


class ExplainedBreakSchema(Schema):
    seq = Int64(allow_none=True)
    reason = fields.String()
    differs = fields.List(fields.Nested(ChainDifferenceSchema))
    event = fields.Nested(EventSchema, allow_none=True)


class ExplainedVerificationSchema(Schema):
    case_id = fields.String(allow_none=True)
    ok = fields.Boolean()
    checked = Int64()
    first_broken = fields.Nested(ExplainedBreakSchema, allow_none=True)
    head = fields.Nested(ChainHeadSchema, allow_none=True)


class StepQuerySchema(Schema):
    process = fields.String(required=True, validate=validate.Length(min=1, max=200))
    version = Int64(validate=validate.Range(min=1), metadata={"description": "default: the latest"})
    since = _when("visits that entered the step at or after this time (ISO 8601, UTC if no offset)")
    until = _when("visits that entered the step before this time")


class StepSchema(Schema):
    element_id = fields.String()
    name = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    waiting_now = Int64()
    entered = Int64()
    completed = Int64()
    cancelled = Int64()
    median_seconds = fields.Float(allow_none=True)
    p90_seconds = fields.Float(allow_none=True)
    with_deadline = Int64()
    missed_deadline = Int64()
    overdue_now = Int64()


class StepMetricsSchema(Schema):
    definition = fields.Dict()
    since = fields.DateTime(allow_none=True)
    until = fields.DateTime(allow_none=True)
    computed_at = fields.DateTime()
    steps = fields.List(fields.Nested(StepSchema))
