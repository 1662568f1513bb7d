"""Marshmallow schemas: what the API accepts and returns. The OpenAPI document is generated from them.
Unknown fields are refused (marshmallow's default RAISE), so a typo is a 422, not silently ignored."""
from __future__ import annotations

from engine.vocabulary import ROLES
from marshmallow import Schema, fields, validate

from .fields import Int64, UtcDateTime

ROLE = validate.OneOf(ROLES)


class ProblemSchema(Schema):
    type = fields.String()
    title = fields.String()
    status = Int64()
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
    business_key = fields.String(allow_none=True, metadata={"description": "the case's business key (in lists)"})
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
    priority = Int64()
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
    process_name = fields.String(allow_none=True, metadata={"description": "the name the diagram gives the "
                                                             "process the task is in (a phase: its own)"})
    form = fields.Nested(FormSchema)


class CaseSchema(Schema):
    id = fields.String()
    process_key = fields.String()
    definition_version = Int64()
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
    page = Int64(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = Int64(load_default=20, validate=validate.Range(min=1, max=200))


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
    return type(name, (Schema,), {
        "items": fields.List(fields.Nested(item)),
        "total": Int64(metadata={"description": "matching items, counted up to a cap (see total_capped)"}),
        "total_capped": fields.Boolean(dump_default=False, metadata={
            "description": "true when there are more than `total` matching items (the count stops at the cap)"}),
        "page": Int64(), "per_page": Int64()})


CasePageSchema = page_schema(CaseSchema, "CasePageSchema")
TaskPageSchema = page_schema(TaskSchema, "TaskPageSchema")


class SignatureInputSchema(Schema):
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024),
                             metadata={"description": "the signer's password, re-entered for this signature"})
    meaning = fields.String(load_default=None, validate=validate.Length(min=1, max=50),
                            metadata={"description": "optional: the meaning the signer was shown; must be the "
                                                     "task's signature_meaning"})


class CompleteSchema(Schema):
    data = fields.Dict(required=True, metadata={"description": "the form data, validated against its JSON Schema"})
    signature = fields.Nested(SignatureInputSchema, load_default=None,
                              metadata={"description": "required for tasks with a signature_meaning (electronic "
                                                       "signature): re-enter the password"})


class AssignSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))


class CommentCreateSchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    task_id = fields.String(load_default=None)
    internal = fields.Boolean(load_default=False, metadata={
        "description": "a staff-only note: never shown to the laboratory or inspectors (staff only)"})


class CommentSchema(Schema):
    id = Int64()
    case_id = fields.String()
    task_id = fields.String(allow_none=True)
    author = fields.String()
    author_name = fields.String(allow_none=True)
    body = fields.String()
    created_at = fields.DateTime()
    internal = fields.Boolean()


class AttachmentSchema(Schema):
    sha256 = fields.String()
    case_id = fields.String()
    filename = fields.String()
    content_type = fields.String()
    size = Int64()
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
    seq = Int64()
    occurred_at = fields.String()
    actor = fields.String()
    actor_name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    action = fields.String()
    element_id = fields.String(allow_none=True)
    element_name = fields.String(allow_none=True)
    element_type = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    data = fields.Raw(allow_none=True, metadata={"description": "task.completed: submitted, changes (old/new), "
                                                                "reason, signature"})
    prev_hash = fields.String(allow_none=True, metadata={"description": "SHA-256 of the previous event"})
    hash = fields.String(allow_none=True, metadata={"description": "SHA-256 of this event (canonical JSON)"})


class HistoryQuerySchema(Schema):
    page = Int64(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = Int64(load_default=500, validate=validate.Range(min=1, max=1000))
    action = fields.String(validate=validate.Length(max=400),
                           metadata={"description": "comma-separated actions; a trailing * matches a prefix"})
    actor = fields.String(validate=validate.Length(max=200), metadata={"description": "acting username"})
    element_id = fields.String(validate=validate.Length(max=200))
    since = UtcDateTime(metadata={"description": "inclusive, ISO 8601 (UTC if no offset)"})
    until = UtcDateTime(metadata={"description": "exclusive, ISO 8601 (UTC if no offset)"})


class CompletionSchema(Schema):
    seq = Int64()
    at = fields.String()
    actor = fields.String()
    actor_name = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    action = fields.String()
    task_id = fields.String(allow_none=True)
    signature_meaning = fields.String(allow_none=True)


class ElementStateSchema(Schema):
    element_id = fields.String()
    element_name = fields.String(allow_none=True)
    element_type = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "active | completed | cancelled | error | seen"})
    active = Int64(metadata={"description": "instances ready now"})
    times_completed = Int64()
    first_completed_at = fields.String(allow_none=True)
    last_completed_at = fields.String(allow_none=True)
    completions = fields.List(fields.Nested(CompletionSchema))


class DiagramQuerySchema(Schema):
    process = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "a process the case's call activities run (their calledElement, at any depth); "
                       "default: the case's own process"})


class CallSchema(Schema):
    element_id = fields.String(metadata={"description": "the call activity"})
    element_name = fields.String(allow_none=True)
    called_element = fields.String(metadata={"description": "the process it runs: pass as ?process= to open it"})
    state = fields.String(allow_none=True, metadata={"description": "active | completed | cancelled | error | "
                                                                     "seen | null (not reached)"})


class DiagramSchema(Schema):
    case_id = fields.String()
    business_key = fields.String()
    root_process = fields.String(metadata={"description": "the case's own process"})
    process = fields.String(metadata={"description": "the process shown"})
    process_name = fields.String()
    definition_key = fields.String()
    definition_version = Int64(metadata={"description": "the version the case runs on"})
    file = fields.String(allow_none=True, metadata={"description": "the BPMN file that holds the process"})
    xml = fields.String(allow_none=True, metadata={"description": "that file's BPMN XML"})
    elements = fields.List(fields.Nested(ElementStateSchema), metadata={
        "description": "the state of the shown process's elements in this case"})
    calls = fields.List(fields.Nested(CallSchema))


class BrokenLinkSchema(Schema):
    seq = Int64(allow_none=True)
    reason = fields.String()


class ChainHeadSchema(Schema):
    seq = Int64()
    hash = fields.String()


class VerificationSchema(Schema):
    case_id = fields.String(allow_none=True)
    ok = fields.Boolean()
    checked = Int64(metadata={"description": "events checked"})
    first_broken = fields.Nested(BrokenLinkSchema, allow_none=True)
    head = fields.Nested(ChainHeadSchema, allow_none=True, metadata={"description": "the last event: keep it "
                                                                                     "to detect a later rewrite"})
    chain_ok = fields.Boolean(metadata={"description": "the hash links alone, before the signed checkpoint"})
    checkpoint = fields.Dict(metadata={"description": "the chain's signed checkpoint: status (signed, no key, "
                                                      "missing, differs, forged, unsigned tail, other key), seq, "
                                                      "hash, signed_at"})


class SignatureRecordSchema(Schema):
    printed_name = fields.String()
    username = fields.String()
    signed_at = fields.String(metadata={"description": "UTC"})
    meaning = fields.String(metadata={"description": "authorship | review | approval"})
    method = fields.String()
    element_id = fields.String()
    element_name = fields.String(allow_none=True)
    data_sha256 = fields.String(metadata={"description": "SHA-256 of canonical JSON {case_id, task_id, "
                                                         "element_id, data}"})
    seq = Int64()
    task_id = fields.String()
    role = fields.String(allow_none=True)
    event_hash = fields.String(allow_none=True)
    binding_ok = fields.Boolean()


class ExportQuerySchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["csv", "json"]))


class DefinitionSchema(Schema):
    key = fields.String()
    name = fields.String(allow_none=True)
    version = Int64()
    content_hash = fields.String()
    start_message = fields.String(allow_none=True)
    deployed_by = fields.String()
    deployed_at = fields.DateTime()


# -- process definitions: versions, deployment, migration -------------------------------------------------

class DefinitionVersionSchema(Schema):
    version = Int64()
    content_hash = fields.String()
    deployed_by = fields.String()
    deployed_at = fields.DateTime()
    note = fields.String(allow_none=True)
    open_cases = Int64(metadata={"description": "running cases on this version"})
    cases = Int64(metadata={"description": "all cases ever started on this version"})
    latest = fields.Boolean(metadata={"description": "new cases start on this version"})


class ProcessOverviewSchema(Schema):
    key = fields.String()
    name = fields.String(allow_none=True)
    latest_version = Int64()
    start_message = fields.String(allow_none=True)
    open_cases = Int64()
    versions = fields.List(fields.Nested(DefinitionVersionSchema))


class DefinitionFileSchema(Schema):
    name = fields.String()
    kind = fields.String(metadata={"description": "bpmn | dmn | form | ui_schema"})
    size = Int64()
    sha256 = fields.String()


class DefinitionDetailSchema(DefinitionVersionSchema):
    key = fields.String()
    name = fields.String(allow_none=True)
    latest_version = Int64()
    start_message = fields.String(allow_none=True)
    subprocesses = fields.List(fields.String())
    user_tasks = fields.List(fields.Dict())
    files = fields.List(fields.Nested(DefinitionFileSchema))


class ValidationReportSchema(Schema):
    valid = fields.Boolean()
    errors = fields.List(fields.Dict(), metadata={"description": "{severity, message, file, element_id, line}"})
    warnings = fields.List(fields.Dict())
    processes = fields.List(fields.String(), metadata={"description": "processes in the validated bundle"})
    supplemented = fields.List(fields.Dict(), metadata={"description": "{file, from}: files taken from deployed "
                                                                       "versions to complete the upload"})
    deploy = fields.List(fields.Dict(), metadata={"description": "{key, version, created, previous_version, "
                                                                 "content_hash, reason} per process"})


class PropertySchema(Schema):
    name = fields.String()
    elements = fields.List(fields.String(), metadata={"description": "BPMN element types it may sit on"})
    where = fields.String(metadata={"description": "the same in words"})
    format = fields.String()
    format_text = fields.String()
    description = fields.String()
    choices = fields.List(fields.String())


class VocabularySchema(Schema):
    roles = fields.List(fields.String())
    lane_roles = fields.List(fields.String(), metadata={"description": "the roles a lane may name"})
    properties = fields.List(fields.Nested(PropertySchema))


class DeployResultSchema(ValidationReportSchema):
    note = fields.String(allow_none=True)
    deployed_by = fields.String()


class DiffQuerySchema(Schema):
    from_version = Int64(required=True, data_key="from", validate=validate.Range(min=1))
    to_version = Int64(required=True, data_key="to", validate=validate.Range(min=1))


class DiffSchema(Schema):
    key = fields.String()
    from_version = Int64()
    to_version = Int64()
    summary = fields.Dict(metadata={"description": "number of elements added, removed, changed"})
    processes = fields.List(fields.Dict(), metadata={"description": "per process and sub-process: added, "
                                                                    "removed, changed elements"})
    files = fields.Dict(metadata={"description": "file names added, removed, changed"})


class MigrateSchema(Schema):
    to_version = Int64(load_default=None, validate=validate.Range(min=1),
                                metadata={"description": "default: the latest version"})
    dry_run = fields.Boolean(load_default=False, metadata={"description": "report only, change nothing"})


class CaseMigrationSchema(Schema):
    case_id = fields.String()
    business_key = fields.String()
    organisation_id = fields.String(allow_none=True)
    process_key = fields.String()
    from_version = Int64()
    to_version = Int64()
    can_migrate = fields.Boolean()
    migrated = fields.Boolean()
    reasons = fields.List(fields.String(), metadata={"description": "why the case cannot move"})
    ready_tasks_before = fields.List(fields.Dict())
    ready_tasks_after = fields.List(fields.Dict())
    added_tasks = fields.List(fields.Dict(), metadata={"description": "elements new in the target version; "
                                                                      "'ahead' if the case will reach them"})
    removed_tasks = fields.List(fields.Dict(), metadata={"description": "elements the target version no longer has"})
    changed_tasks = fields.List(fields.Dict(), metadata={"description": "elements whose attributes changed"})
    affected_ready_tasks = fields.List(fields.Dict(), metadata={"description": "ready tasks whose element changed"})
    affected_waiting = fields.List(fields.Dict(), metadata={"description": "waiting events, running "
                                                                            "sub-processes whose element changed"})
    timers_restarted = fields.List(fields.String())


class BulkMigrationSchema(Schema):
    key = fields.String()
    from_version = Int64()
    to_version = Int64()
    dry_run = fields.Boolean()
    total = Int64()
    can_migrate = Int64()
    migrated = Int64()
    blocked = Int64()
    cases = fields.List(fields.Nested(CaseMigrationSchema))


# -- schedule, notifications, for-cause audits ----------------------------------------------------

class ScheduleQuery(Schema):
    organisation_id = fields.String()
    kind = fields.String(metadata={"description": "surveillance_audit, annual_report, renewal, expiry, "
                                                  "task_deadline, task_reminder, timer"})
    since = UtcDateTime(default_timezone=None)
    until = UtcDateTime(default_timezone=None)
    limit = Int64(load_default=200, validate=validate.Range(min=1, max=1000))


class ScheduleItem(Schema):
    case_id = fields.String()
    business_key = fields.String()
    process_key = fields.String()
    organisation_id = fields.String(allow_none=True)
    element_id = fields.String()
    name = fields.String(allow_none=True)
    kind = fields.String()
    due_at = fields.DateTime()
    task_id = fields.String(allow_none=True, metadata={"description": "the person's task this timer sits on "
                                                                       "(null when it opens no single task)"})
    task_name = fields.String(allow_none=True)
    activity_name = fields.String(allow_none=True, metadata={
        "description": "the activity the timer concerns (a multi-instance step: the step, not one person's task)"})
    task_count = Int64(metadata={"description": "open tasks of that activity"})
    role = fields.String(allow_none=True, metadata={"description": "the role of those tasks"})
    people = fields.List(fields.String(), metadata={"description": "who holds those tasks (claimed or assigned)"})


class NotificationSchema(Schema):
    id = Int64()
    case_id = fields.String()
    task_id = fields.String(allow_none=True)
    recipient = fields.String()
    kind = fields.String()
    subject = fields.String()
    body = fields.String()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


class ForCauseSchema(Schema):
    organisation_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    accreditation_case_id = fields.String(load_default=None)
