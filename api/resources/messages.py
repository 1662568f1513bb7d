"""Messages into cases, e.g. a laboratory's change notification."""
from __future__ import annotations

from flask_smorest import Blueprint

from engine.errors import Forbidden, InvalidFormData

from ..auth import current_actor, services
from ..schemas import MessageResultSchema, MessageSchema

blp = Blueprint("messages", __name__, url_prefix="/api/messages", description="Messages to waiting cases")


@blp.post("/<name>")
@blp.arguments(MessageSchema)
@blp.response(202, MessageResultSchema)
def deliver(args, name):
    """Deliver message `name` to the case of the organisation waiting for it (or to `case_id`).
    Applicants send only for their own organisation; coordinators for any."""
    actor = current_actor()
    svc = services()
    org, case_id = args["organisation_id"], args["case_id"]
    if "coordinator" in actor.roles and not org and not case_id:
        raise InvalidFormData("say which case should receive the message",
                              [{"field": "/organisation_id", "message": "give organisation_id or case_id"}])
    if "coordinator" not in actor.roles:
        if "applicant" not in actor.roles:
            raise Forbidden("only applicants and coordinators send messages to cases")
        if org not in (None, actor.organisation_id):
            raise Forbidden("applicants send messages only for their own organisation")
        org = actor.organisation_id
        if case_id:
            svc.workspace.case_for(actor, case_id)  # 404 unless it is the applicant's own case
    ids = svc.engine.deliver_message(name, args["payload"], actor, organisation_id=org, case_id=case_id)
    return {"message": name, "case_ids": ids}
