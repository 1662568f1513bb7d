"""Building the Flask app in tests as `accredit serve` does: prepare the database (migrate; deploy the
shipped library when the config asks, ``DEPLOY_SHIPPED``; demo users with ``DEMO``), then ``create_app``,
which itself has no side effects."""
from __future__ import annotations

from api.app import create_app
from engine.bootstrap import prepare
from engine.storage.db import Database


def make_app(config: dict):
    db = Database(config["DATABASE_URL"])
    try:
        prepare(db, deploy_shipped=bool(config.get("DEPLOY_SHIPPED")), demo=bool(config.get("DEMO")))
    finally:
        db.dispose()
    return create_app(config)
