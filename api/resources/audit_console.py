"""The audit console's reads: a case's or the system's timeline with every filter and the filter values, and
a verification that says what differs at the first broken link. Step metrics ("where the process hurts")
live here too: both are read-only views over the recorded history."""
from __future__ import annotations

from flask_smorest import Blueprint

from engine.reports.audit_console import AuditConsole, parse_anchor
from engine.reports.metrics import StepMetrics

from ..auth import current_actor, services
from ..schemas_audit import (
    AnchorQuerySchema,
    ExplainedVerificationSchema,
    StepMetricsSchema,
    StepQuerySchema,
    TimelineQuerySchema,
    TimelineSchema,
)

blp = Blueprint("audit_console", __name__, url_prefix="/api", description="Audit console: timelines with "
                                                                          "filters, explained verification, "
                                                                          "step metrics")


def _console() -> AuditConsole:
    svc = services()
    return AuditConsole(svc.db, svc.identity, svc.engine)


def _filters(args: dict) -> dict:
    return {"action": args.get("action"), "user": args.get("actor"), "role": args.get("role"),
            "element_id": args.get("element_id"), "since": args.get("since"), "until": args.get("until"),
            "page": args["page"], "per_page": args["per_page"]}


@blp.get("/audit/cases/<case_id>/timeline")
@blp.arguments(TimelineQuerySchema, location="query")
@blp.response(200, TimelineSchema)
def case_timeline(args, case_id):
    """A case's events matching the filters (actor, role, event type, element, since/until), one page, with
    the total, the chain's length and the values each filter can take."""
    return _console().case_timeline(current_actor(), case_id, **_filters(args))


@blp.get("/audit/system/timeline")
@blp.arguments(TimelineQuerySchema, location="query")
@blp.response(200, TimelineSchema)
def system_timeline(args):
    """The system history (sign-ins and failures, permission denials, deployments, account and token
    changes, exports) with the same filters. Auditors and administrators."""
    return _console().system_timeline(current_actor(), **_filters(args))


@blp.get("/audit/cases/<case_id>/verify")
@blp.arguments(AnchorQuerySchema, location="query")
@blp.response(200, ExplainedVerificationSchema)
def verify_case(args, case_id):
    """Verify the case's hash chain: the verdict, the head to record, and at the first broken link what
    differs (hash recorded vs recomputed, link to the previous event, sequence, signature binding)."""
    return _console().verify_case(current_actor(), case_id, parse_anchor(args.get("anchor")))


@blp.get("/audit/system/verify")
@blp.arguments(AnchorQuerySchema, location="query")
@blp.response(200, ExplainedVerificationSchema)
def verify_system(args):
    """Verify the system events' hash chain (auditors and administrators)."""
    return _console().verify_system(current_actor(), parse_anchor(args.get("anchor")))


@blp.get("/metrics/steps")
@blp.arguments(StepQuerySchema, location="query")
@blp.response(200, StepMetricsSchema)
def step_metrics(args):
    """Where the process hurts: per human step of a process version, cases waiting now, median and 90th
    percentile time spent there, missed deadlines; `since`/`until` select visits by when they entered the
    step. Quality managers, auditors and coordinators."""
    return StepMetrics(services().engine).steps(current_actor(), args["process"], args.get("version"),
                                                since=args.get("since"), until=args.get("until"))
