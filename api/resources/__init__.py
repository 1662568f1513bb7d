"""HTTP resources, one blueprint each."""
from __future__ import annotations


def register(api, app) -> None:
    from . import (admin, audit, audit_console, cases, definitions, meta, messages, migrations, schedule, session,
                   tasks)

    app.register_blueprint(meta.bp)
    for module in (session, admin, cases, audit, tasks, messages, definitions, migrations, schedule):
        api.register_blueprint(module.blp)
    api.register_blueprint(audit_console.blp)  # audit console + step metrics (auditweb)
