"""What is coming: surveillance audits, annual reports, renewals, expiries, task deadlines; notifications;
starting a for-cause audit now."""
from __future__ import annotations

from flask_smorest import Blueprint

from ..auth import current_actor, services
from ..schemas import CaseSchema, ForCauseSchema, NotificationSchema, ScheduleItem, ScheduleQuery

blp = Blueprint("schedule", __name__, url_prefix="/api", description="Schedule, notifications, for-cause audits")


@blp.get("/schedule")
@blp.arguments(ScheduleQuery, location="query")
@blp.response(200, ScheduleItem(many=True))
def schedule(args):
    """Upcoming timers of running cases, soonest first. Staff see every organisation; an applicant sees its
    own organisation's; an inspector the cases assigned to them."""
    return services().workspace.schedule(current_actor(), organisation_id=args.get("organisation_id"),
                                         kind=args.get("kind"), since=args.get("since"), until=args.get("until"),
                                         limit=args["limit"])


@blp.get("/notifications")
@blp.response(200, NotificationSchema(many=True))
def notifications():
    """Reminders and deadline notices for me (as a person, or for a role I hold)."""
    return services().workspace.notifications(current_actor())


@blp.post("/audits/for-cause")
@blp.arguments(ForCauseSchema)
@blp.response(201, CaseSchema)
def for_cause_audit(args):
    """A coordinator starts a for-cause (e.g. after a complaint) surveillance audit of a laboratory now."""
    return services().workspace.for_cause_audit(current_actor(), args["organisation_id"], args["reason"],
                                                args["accreditation_case_id"])
