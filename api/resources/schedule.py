"""What is coming: surveillance audits, annual reports, renewals, expiries, task deadlines; notifications;
starting a for-cause audit now."""
from __future__ import annotations

from flask_smorest import Blueprint

from engine import redaction
from engine.access import sees_all_cases
from engine.errors import Forbidden

from ..auth import current_actor, services
from ..schemas import CaseSchema, ForCauseSchema, NotificationSchema, ScheduleItem, ScheduleQuery

blp = Blueprint("schedule", __name__, url_prefix="/api", description="Schedule, notifications, for-cause audits")


@blp.get("/schedule")
@blp.arguments(ScheduleQuery, location="query")
@blp.response(200, ScheduleItem(many=True))
def schedule(args):
    """Upcoming timers of running cases, soonest first. Staff see every organisation; an applicant sees its
    own organisation's; an inspector the cases assigned to them."""
    actor = current_actor()
    svc = services()
    case_ids = None
    if not sees_all_cases(actor):
        if "applicant" in actor.roles and args.get("organisation_id") not in (None, actor.organisation_id):
            raise Forbidden("applicants see only their own organisation's schedule")
        page = svc.workspace.list_cases(actor, status="running", per_page=10_000)
        case_ids = [c.id for c in page.items]
    return svc.engine.schedule(organisation_id=args.get("organisation_id"), kind=args.get("kind"),
                               since=args.get("since"), until=args.get("until"), case_ids=case_ids,
                               limit=args["limit"])


@blp.get("/notifications")
@blp.response(200, NotificationSchema(many=True))
def notifications():
    """Reminders and deadline notices for me (as a person, or for a role I hold), of cases I may see."""
    return redaction.notifications_for(services().db, current_actor())


@blp.post("/audits/for-cause")
@blp.arguments(ForCauseSchema)
@blp.response(201, CaseSchema)
def for_cause_audit(args):
    """A coordinator starts a for-cause (e.g. after a complaint) surveillance audit of a laboratory now."""
    actor = current_actor()
    data = {"audit_type": "for_cause", "reason": args["reason"],
            "accreditation_case_id": args["accreditation_case_id"]}
    view = services().engine.start_case("surveillance_audit", actor, args["organisation_id"], data)
    return services().workspace.case_for(actor, view.id)
