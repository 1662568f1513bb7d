"""Flask application factory. Thin: parse, authorise, call one engine service, render."""
from __future__ import annotations

from flask import Flask

from engine.db import Database, database_url
from engine.services import Engine

from .problems import register_error_handlers
from .routes import bp as api_bp


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(DATABASE_URL=database_url(), DEPLOY_SHIPPED=True)
    app.config.update(config or {})
    db = Database(app.config["DATABASE_URL"])
    db.migrate()
    engine = Engine(db)
    if app.config["DEPLOY_SHIPPED"]:
        from engine.config import forms_dir, processes_dir

        engine.deploy_directories(processes_dir(), forms_dir(), deployed_by="system", note="shipped library")
    app.extensions["accredit.engine"] = engine
    register_error_handlers(app)
    app.register_blueprint(api_bp)
    return app
