"""Schemas of the endpoints the web pages added (catalogue, decision context, users by role)."""
from __future__ import annotations

from .fields import Int64
from marshmallow import Schema, fields


class StartableProcessSchema(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    version = Int64(required=True)
    role = fields.String(required=True, metadata={"description": "the lane of the start event"})
    description = fields.String(allow_none=True, metadata={"description": "the process's bpmn:documentation"})
    form = fields.Dict(allow_none=True, metadata={"description": "JSON Schema of the start event's form, if any"})
    ui_schema = fields.Dict(allow_none=True)


class SendableMessageSchema(Schema):
    message = fields.String(required=True, metadata={"description": "POST /api/messages/{message}"})
    name = fields.String(required=True)
    process_key = fields.String(required=True)
    element_id = fields.String(required=True)
    description = fields.String(allow_none=True)
    form = fields.Dict(allow_none=True, metadata={"description": "JSON Schema of the payload"})
    ui_schema = fields.Dict(allow_none=True)


class CatalogueSchema(Schema):
    processes = fields.List(fields.Nested(StartableProcessSchema), required=True)
    messages = fields.List(fields.Nested(SendableMessageSchema), required=True)


class ContextSectionSchema(Schema):
    form = fields.String(allow_none=True, metadata={"description": "the earlier form shown (showForms entry)"})
    variable = fields.String(allow_none=True, metadata={"description": "the case variable shown"})
    title = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    schema = fields.Dict(allow_none=True, metadata={"description": "the form's JSON Schema, to render the value"})
    ui_schema = fields.Dict(allow_none=True)
    value = fields.Raw(allow_none=True, metadata={"description": "the form's answers, or the variable's value"})


class PersonSchema(Schema):
    username = fields.String(required=True)
    display_name = fields.String(required=True)


class PeopleQuery(Schema):
    role = fields.String(required=True, metadata={"description": "a role, e.g. inspector"})
