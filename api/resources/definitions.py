"""Deployed process definitions."""
from __future__ import annotations

from flask_smorest import Blueprint

from ..auth import current_actor, services
from ..schemas import DefinitionSchema

blp = Blueprint("definitions", __name__, url_prefix="/api/process-definitions", description="Process definitions")


@blp.get("")
@blp.response(200, DefinitionSchema(many=True))
def list_definitions():
    """Every deployed version of every process."""
    current_actor()
    return services().engine.definitions()
