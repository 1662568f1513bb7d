"""Marshmallow schemas: what the API accepts and returns. The OpenAPI document is generated from them.
Unknown fields are refused (marshmallow's default RAISE), so a typo is a 422, not silently ignored."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

ROLE = validate.OneOf(["applicant", "coordinator", "inspector", "committee", "quality_manager", "auditor", "admin"])


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    errors = fields.List(fields.Dict(), metadata={"description": "one entry per field: {field, message}"})


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))


class MeSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    roles = fields.List(fields.String())
    organisation_id = fields.String(allow_none=True)


class TokenCreateSchema(Schema):
    name = fields.String(load_default="api", validate=validate.Length(min=1, max=200))


class TokenSchema(Schema):
    token = fields.String(metadata={"description": "shown once; send as 'Authorization: Bearer <token>'"})
    name = fields.String()


class TaskSchema(Schema):
    id = fields.String()
    case_id = fields.String()
    process_key = fields.String()
    element_id = fields.String(metadata={"description": "BPMN element id of the user task"})
    name = fields.String(allow_none=True)
    role = fields.String(allow_none=True, metadata={"description": "the lane: role that acts on this task"})
    assignee = fields.String(allow_none=True, metadata={"description": "user the diagram assigns it to"})
    claimed_by = fields.String(allow_none=True)
    form = fields.String(allow_none=True)
    signature_meaning = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    priority = fields.Integer()
    status = fields.String()
    organisation_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)


class FormSchema(Schema):
    name = fields.String(allow_none=True)
    schema = fields.Dict(allow_none=True, metadata={"description": "JSON Schema (draft 2020-12) of the form"})
    ui_schema = fields.Dict(allow_none=True)
    data = fields.Dict()


class TaskDetailSchema(TaskSchema):
    form = fields.Nested(FormSchema)


class CaseSchema(Schema):
    id = fields.String()
    process_key = fields.String()
    definition_version = fields.Integer()
    organisation_id = fields.String(allow_none=True)
    business_key = fields.String()
    status = fields.String()
    outcome = fields.String(allow_none=True)
    parent_case_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)
    tasks = fields.List(fields.Nested(TaskSchema))
    data = fields.Dict()


class CaseCreateSchema(Schema):
    process = fields.String(required=True, validate=validate.Length(min=1, max=200))
    organisation_id = fields.String(load_default=None, validate=validate.Length(min=1, max=100),
                                    metadata={"description": "defaults to the caller's organisation"})
    business_key = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    data = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")),
                       load_default=dict)


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))


class CaseQuerySchema(PageArgs):
    process = fields.String()
    status = fields.String(validate=validate.OneOf(["running", "completed"]))
    organisation_id = fields.String()
    q = fields.String(validate=validate.Length(max=200), metadata={"description": "text in the business key"})


class TaskQuerySchema(PageArgs):
    scope = fields.String(load_default="all", validate=validate.OneOf(["all", "mine", "claimed", "unassigned"]))
    role = fields.String(validate=ROLE)
    process = fields.String()
    case_id = fields.String()
    overdue = fields.Boolean()
    sort = fields.String(load_default="due", validate=validate.OneOf(["due", "-due", "priority", "created",
                                                                       "-created"]))


def page_schema(item, name):
    return type(name, (Schema,), {"items": fields.List(fields.Nested(item)), "total": fields.Integer(),
                                  "page": fields.Integer(), "per_page": fields.Integer()})


CasePageSchema = page_schema(CaseSchema, "CasePageSchema")
TaskPageSchema = page_schema(TaskSchema, "TaskPageSchema")


class CompleteSchema(Schema):
    data = fields.Dict(required=True, metadata={"description": "the form data, validated against its JSON Schema"})


class AssignSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))


class CommentCreateSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    task_id = fields.String(load_default=None)


class CommentSchema(Schema):
    id = fields.Integer()
    case_id = fields.String()
    task_id = fields.String(allow_none=True)
    author = fields.String()
    author_name = fields.String(allow_none=True)
    body = fields.String()
    created_at = fields.DateTime()


class AttachmentSchema(Schema):
    sha256 = fields.String()
    case_id = fields.String()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    uploaded_by = fields.String()
    uploaded_at = fields.DateTime()


class MessageSchema(Schema):
    payload = fields.Dict(load_default=dict)
    organisation_id = fields.String(load_default=None)
    case_id = fields.String(load_default=None)


class MessageResultSchema(Schema):
    message = fields.String()
    case_ids = fields.List(fields.String())


class EventSchema(Schema):
    seq = fields.Integer()
    occurred_at = fields.String()
    actor = fields.String()
    actor_name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    action = fields.String()
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    element_type = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    data = fields.Raw(allow_none=True)


class DefinitionSchema(Schema):
    key = fields.String()
    name = fields.String(allow_none=True)
    version = fields.Integer()
    content_hash = fields.String()
    start_message = fields.String(allow_none=True)
    deployed_by = fields.String()
    deployed_at = fields.DateTime()
