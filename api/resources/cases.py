"""Cases: start, list, read; their comments and attachments. The history is in audit.py (same prefix)."""
from __future__ import annotations

from flask import send_file
from flask_smorest import Blueprint

from engine.cases.attachments import download_name
from engine.errors import InvalidFormData

from ..auth import current_actor, services
from ..schemas import (
    AttachmentSchema,
    CaseCreateSchema,
    CasePageSchema,
    CaseQuerySchema,
    CaseSchema,
    CommentCreateSchema,
    CommentSchema,
    DiagramQuerySchema,
    DiagramSchema,
)

blp = Blueprint("cases", __name__, url_prefix="/api/cases", description="Cases (process instances)")


@blp.get("")
@blp.arguments(CaseQuerySchema, location="query")
@blp.response(200, CasePageSchema)
def list_cases(args):
    """Cases the caller may see: filter by process, status, organisation, text in the business key."""
    return services().workspace.list_cases(current_actor(), **args)


@blp.post("")
@blp.arguments(CaseCreateSchema)
@blp.response(201, CaseSchema)
def start_case(args):
    """Start a case of the latest version of a process. Who may start it is drawn in the diagram (the lane
    of the start event); applicants start cases for their own organisation."""
    return services().workspace.start_case(current_actor(), args["process"], args["organisation_id"],
                                           args["data"], args["business_key"])


@blp.get("/<case_id>")
@blp.response(200, CaseSchema)
def get_case(case_id):
    """A case: status, the tasks the caller may act on, and its data."""
    return services().workspace.case_for(current_actor(), case_id)


@blp.get("/<case_id>/diagram")
@blp.arguments(DiagramQuerySchema, location="query")
@blp.response(200, DiagramSchema)
def get_diagram(args, case_id):
    """The case's diagram (BPMN XML of the version it runs on) with what is done and what waits now; with
    `process`, the diagram of a process one of its call activities runs (at any depth), marked the same way.
    404 for a process the case does not call."""
    return services().workspace.case_diagram(current_actor(), case_id, args.get("process"))


@blp.get("/<case_id>/comments")
@blp.response(200, CommentSchema(many=True))
def list_comments(case_id):
    return services().workspace.comments(case_id, current_actor())


@blp.post("/<case_id>/comments")
@blp.arguments(CommentCreateSchema)
@blp.response(201, CommentSchema)
def add_comment(args, case_id):
    """Comment on a case (or one of its tasks with task_id)."""
    return services().workspace.add_comment(case_id, current_actor(), args["body"], args["task_id"],
                                            internal=args["internal"])


@blp.get("/<case_id>/attachments")
@blp.response(200, AttachmentSchema(many=True))
def list_attachments(case_id):
    return services().workspace.attachments(case_id, current_actor())


@blp.post("/<case_id>/attachments")
@blp.response(201, AttachmentSchema)
def upload(case_id):
    """Upload a document (multipart/form-data, field `file`): SOPs, QMS manual, CVs… Refer to it from form
    data by its sha256."""
    from flask import request

    if not request.mimetype.startswith("multipart/form-data"):
        raise InvalidFormData("send the file as multipart/form-data in the field 'file'",
                              [{"field": "/file", "message": f"content type was {request.mimetype or 'missing'}"}])
    f = request.files.get("file")
    if f is None:
        raise InvalidFormData("no file", [{"field": "/file", "message": "is required"}])
    data = f.read()
    return services().workspace.upload(case_id, current_actor(), f.filename, f.mimetype, data)


@blp.get("/<case_id>/attachments/<sha256>")
def download(case_id, sha256):
    """The file, to those who may see the case."""
    meta, path = services().workspace.attachment(case_id, sha256, current_actor())
    response = send_file(path, mimetype=meta.content_type, as_attachment=True,
                         download_name=download_name(meta.filename))  # no control character in the header
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
