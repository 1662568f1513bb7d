"""Moving running cases to another version of their process (quality managers only).

Always start with ``"dry_run": true``: the migration is run and rolled back, and the report says per case
whether it can move and what changes. A real migration is atomic per case and recorded in the case history
(``case.migrated``); a case that cannot move is left untouched.
"""
from __future__ import annotations

from flask_smorest import Blueprint

from engine.cases.migration import Migration
from engine.errors import Conflict
from engine.vocabulary import QUALITY_MANAGER

from ..auth import current_actor, require_role, services
from ..schemas import BulkMigrationSchema, CaseMigrationSchema, MigrateSchema

blp = Blueprint("migrations", __name__, url_prefix="/api", description="Migrating cases between versions")


@blp.post("/cases/<case_id>/migrate")
@require_role(QUALITY_MANAGER)
@blp.arguments(MigrateSchema)
@blp.response(200, CaseMigrationSchema)
@blp.alt_response(409, description="the case cannot move: the problem lists the reasons and the report")
def migrate_case(args, case_id):
    """Move one open case to ``to_version`` (default: the latest) of its process, or report what would
    happen (``dry_run``)."""
    actor = current_actor()
    services().workspace.case_for(actor, case_id)  # 404 for a case the caller cannot see
    result = Migration(services().engine).migrate_case(case_id, actor, args["to_version"], args["dry_run"])
    if not args["dry_run"] and not result["migrated"]:
        raise Conflict("the case cannot move to version %s: %s" % (result["to_version"], "; ".join(result["reasons"])),
                       reasons=result["reasons"], migration=CaseMigrationSchema().dump(result))
    return result


@blp.post("/process-definitions/<key>/versions/<int:version>/migrate")
@require_role(QUALITY_MANAGER)
@blp.arguments(MigrateSchema)
@blp.response(200, BulkMigrationSchema)
def migrate_version(args, key, version):
    """Every open case of version ``version``: each that can move does (one transaction per case); the others
    are listed with their reasons and left untouched. ``dry_run`` reports without changing anything."""
    return Migration(services().engine).migrate_version(key, version, current_actor(), args["to_version"],
                                                         args["dry_run"])
