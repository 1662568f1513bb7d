"""Flask application factory. Thin: parse, authorise, call one engine service, render."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_smorest import Api

from engine.db import Database, database_url
from engine.identity import Identity
from engine.services import Engine
from engine.workspace import DEFAULT_MAX_UPLOAD, Workspace

from .problems import register_error_handlers


#: what answers without credentials: signing in, health, and the API description
_PUBLIC = ("/api/session", "/api/health", "/api/openapi.json", "/api/docs")


@dataclass
class Services:
    """What the HTTP layer talks to. One per app."""

    db: Database
    engine: Engine
    identity: Identity
    workspace: Workspace


class _ProblemApi(Api):
    """flask-smorest, with errors documented as what they are: RFC 9457 problem details."""

    from .schemas import ProblemSchema as ERROR_SCHEMA


def _env_config() -> dict:
    env = os.environ
    return {
        "DATABASE_URL": database_url(),
        "SECRET_KEY": env.get("ACCREDIT_SECRET_KEY"),
        "ATTACHMENTS_DIR": env.get("ACCREDIT_ATTACHMENTS_DIR", "var/attachments"),
        "MAX_UPLOAD_BYTES": int(env.get("ACCREDIT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD)),
        "SESSION_IDLE_MINUTES": int(env.get("ACCREDIT_SESSION_IDLE_MINUTES", "15")),
        "DEPLOY_SHIPPED": env.get("ACCREDIT_DEPLOY_SHIPPED", "1") != "0",
        "DEMO": env.get("ACCREDIT_DEMO", "0") == "1",
    }


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.json.sort_keys = False  # forms keep their schema's field order on the page
    app.config.update(_env_config())
    app.config.update(config or {})
    from engine.config import absolute_paths

    app.config.update(absolute_paths(app.config))  # once, at start-up: never re-read against another directory
    if not app.config.get("SECRET_KEY"):
        # A random key per process: sessions do not survive a restart. Set ACCREDIT_SECRET_KEY in production.
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.config.update(
        MAX_CONTENT_LENGTH=app.config["MAX_UPLOAD_BYTES"] + 64 * 1024,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        API_TITLE="accredit", API_VERSION="1", OPENAPI_VERSION="3.0.3", OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json", OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",
    )

    db = Database(app.config["DATABASE_URL"])  # no side effects: `accredit serve` / `db upgrade` migrate
    engine = Engine(db)
    identity = Identity(db)
    workspace = Workspace(db, engine, identity, Path(app.config["ATTACHMENTS_DIR"]),
                          max_upload=app.config["MAX_UPLOAD_BYTES"])
    app.extensions["accredit"] = Services(db, engine, identity, workspace)
    app.extensions["accredit.engine"] = engine
    api = _ProblemApi(app, spec_kwargs={"info": {"description": "Accreditation workflow API. Errors are RFC 9457 "
                                                        "application/problem+json."}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "session"})
    api.spec.options["security"] = [{"bearer": []}, {"session": []}]
    from .resources import register
    from .web import bp as web_pages

    register(api, app)
    app.register_blueprint(web_pages)  # staff web pages (docs/web-ui.md)

    @app.before_request
    def _authenticate_first():
        # 401 before any request body or query is validated: anonymous callers get no 422s
        from flask import request

        from .auth import current_actor

        if request.path.startswith("/api/") and not request.path.startswith(_PUBLIC):
            current_actor()
        if request.method in ("POST", "PUT", "PATCH") and request.content_length and request.mimetype not in (
                "application/json", "multipart/form-data") and not request.mimetype.endswith("+json"):
            from werkzeug.exceptions import UnsupportedMediaType

            raise UnsupportedMediaType(f"send JSON (Content-Type: application/json) or multipart/form-data, "
                                       f"not {request.mimetype or 'no content type'}")

    register_error_handlers(app)  # after Api(): ours must win over flask-smorest's JSON handler
    return app
