"""Getting a database ready to serve: migrate the schema, deploy the shipped process library, and (only when
asked) create the demo accounts. Run once, by a command (`accredit serve`, `accredit db upgrade`,
`accredit processes deploy`, `accredit demo`) — never as a side effect of building the web application, so
that N web workers starting together do not race to migrate and deploy, and a worker's start is cheap."""
from __future__ import annotations

from .storage.db import Database


def prepare(db: Database, *, deploy_shipped: bool = True, demo: bool = False) -> dict:
    """Bring ``db`` to the newest schema; deploy what changed in the shipped library (never over
    a version a quality manager deployed since: :mod:`engine.cases.shipped`); create demo users if ``demo``."""
    from .config import forms_dir, processes_dir
    from .cases.deployment import Deployment
    from .cases.services import Engine
    from .cases.shipped import deploy_shipped as deploy_shipped_files

    db.migrate()
    report: dict = {}
    if deploy_shipped:
        report = deploy_shipped_files(Deployment(Engine(db)), processes_dir(), forms_dir())
    if demo:
        from .users.identity import Identity, create_demo

        create_demo(Identity(db))
    return report
