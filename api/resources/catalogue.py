"""What the caller may start or send, read from the diagrams (engine/definitions/catalogue.py)."""
from __future__ import annotations

from flask_smorest import Blueprint

from engine.definitions.catalogue import startable

from ..auth import current_actor, services
from ..schemas_web import CatalogueSchema

blp = Blueprint("catalogue", __name__, url_prefix="/api/catalogue", description="What you may start")


@blp.get("")
@blp.response(200, CatalogueSchema)
def catalogue():
    """Processes whose start event is in a lane of one of your roles (not message-started, not only called),
    and messages a diagram lets your role send (`sentBy` on the catch event), each with its form."""
    return startable(services().engine, current_actor())
