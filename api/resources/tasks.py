"""The task inbox: list, read with form, claim, unclaim, assign, complete."""
from __future__ import annotations

from flask_smorest import Blueprint

from ..auth import current_actor, services
from ..schemas import AssignSchema, CaseSchema, CompleteSchema, TaskDetailSchema, TaskPageSchema, TaskQuerySchema, TaskSchema

blp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="The task inbox")


@blp.get("")
@blp.arguments(TaskQuerySchema, location="query")
@blp.response(200, TaskPageSchema)
def inbox(args):
    """Tasks the caller may act on: by role (lane), organisation (applicants) and assignment (inspectors).
    Filters: scope (all, mine, claimed, unassigned), role, process, case_id, overdue; sort by due date,
    priority or creation."""
    return services().workspace.inbox(current_actor(), **args)


@blp.get("/<task_id>")
@blp.response(200, TaskDetailSchema)
def get_task(task_id):
    """A task with its form: JSON Schema, UI schema and current values."""
    return services().workspace.task_detail(current_actor(), task_id)


@blp.post("/<task_id>/claim")
@blp.response(200, TaskSchema)
def claim(task_id):
    """Take the task: colleagues see it is yours; 409 if someone else has it."""
    return services().workspace.claim(task_id, current_actor())


@blp.post("/<task_id>/unclaim")
@blp.response(200, TaskSchema)
def unclaim(task_id):
    """Give the task back (the claimer or a coordinator)."""
    return services().workspace.unclaim(task_id, current_actor())


@blp.post("/<task_id>/assign")
@blp.arguments(AssignSchema)
@blp.response(200, TaskSchema)
def assign(args, task_id):
    """A coordinator assigns the task to a named user who holds its role."""
    return services().workspace.assign(task_id, current_actor(), args["username"])


@blp.post("/<task_id>/complete")
@blp.arguments(CompleteSchema)
@blp.response(200, CaseSchema)
def complete(args, task_id):
    """Complete the task with its form data (422 lists each field at fault; 409 if it was completed or
    claimed by someone else meanwhile). Returns the case as it is now.

    A task with a `signature_meaning` is an electronic signature: send `signature: {password}` (the signer's
    password, re-entered). Missing: 422 naming `/signature/password` (after the form's own errors, which the
    engine reports first); wrong: 401 and a `signature.failed` system event (repeated failures: 429)."""
    return services().workspace.complete(current_actor(), task_id, args["data"], args.get("signature"))
