"""Who holds a role (staff only): the choices of a form field asking for a person (`format: user:<role>`)."""
from __future__ import annotations

from flask_smorest import Blueprint

from engine.users.people import users_with_role

from ..auth import current_actor, services
from ..schemas_web import PeopleQuery, PersonSchema

blp = Blueprint("people", __name__, url_prefix="/api/people", description="Users by role (staff)")


@blp.get("")
@blp.arguments(PeopleQuery, location="query")
@blp.response(200, PersonSchema(many=True))
def people(args):
    """Active users holding `role`, by display name. Staff only (403 for laboratories and inspectors)."""
    return users_with_role(services().db, current_actor(), args["role"])
