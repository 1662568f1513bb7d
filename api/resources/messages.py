"""Messages into cases, e.g. a laboratory's change notification."""
from __future__ import annotations

from flask_smorest import Blueprint

from ..auth import current_actor, services
from ..schemas import MessageResultSchema, MessageSchema

blp = Blueprint("messages", __name__, url_prefix="/api/messages", description="Messages to waiting cases")


@blp.post("/<name>")
@blp.arguments(MessageSchema)
@blp.response(202, MessageResultSchema)
def deliver(args, name):
    """Deliver message `name` to the case of the organisation waiting for it (or to `case_id`).
    Applicants send only for their own organisation; coordinators for any."""
    return services().workspace.send_message(current_actor(), name, args["payload"],
                                             organisation_id=args["organisation_id"], case_id=args["case_id"])
