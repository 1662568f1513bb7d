"""HTTP resources, one blueprint each."""
from __future__ import annotations


def register(api, app) -> None:
    from . import cases, definitions, meta, messages, schedule, session, tasks

    app.register_blueprint(meta.bp)
    for module in (session, cases, tasks, messages, definitions, schedule):
        api.register_blueprint(module.blp)
