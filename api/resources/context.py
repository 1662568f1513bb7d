"""A task's decision context: the earlier answers its diagram says to show (`showForms`), read-only."""
from __future__ import annotations

from flask_smorest import Blueprint

from engine.definitions.context import decision_context

from ..auth import current_actor, services
from ..schemas_web import ContextSectionSchema

blp = Blueprint("context", __name__, url_prefix="/api/tasks", description="What a task decides on")


@blp.get("/<task_id>/context")
@blp.response(200, ContextSectionSchema(many=True))
def context(task_id):
    """The forms and variables the task's `showForms` property names, with the values you may read (the
    case's visibility rules apply), each with its own JSON Schema and UI schema to render it."""
    svc = services()
    return decision_context(svc.engine, svc.workspace, current_actor(), task_id)
