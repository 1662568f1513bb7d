"""Flask application factory. Thin: parse, authorise, call one engine service, render."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask_smorest import Api

from engine.cases.attachments import DEFAULT_CASE_QUOTA, DEFAULT_MAX_UPLOAD
from engine.storage.db import Database, database_url
from engine.users.identity import Identity
from engine.cases.services import Engine
from engine.cases.workspace import Workspace

from .problems import register_error_handlers


#: what answers without credentials: signing in, health, and the API description
_PUBLIC = ("/api/session", "/api/health", "/healthz", "/readyz", "/api/openapi.json", "/api/docs")


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


def env_config() -> dict:
    env = os.environ
    return {
        "DATABASE_URL": database_url(),
        "SECRET_KEY": env.get("ACCREDIT_SECRET_KEY"),
        "ATTACHMENTS_DIR": env.get("ACCREDIT_ATTACHMENTS_DIR", "var/attachments"),
        "MAX_UPLOAD_BYTES": int(env.get("ACCREDIT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD)),
        "SESSION_IDLE_MINUTES": int(env.get("ACCREDIT_SESSION_IDLE_MINUTES", "15")),
        "SESSION_MAX_HOURS": float(env.get("ACCREDIT_SESSION_MAX_HOURS", "12")),
        "TOKEN_DAYS": float(env.get("ACCREDIT_TOKEN_DAYS", "90")),
        "SECURE_COOKIES": env.get("ACCREDIT_SECURE_COOKIES", "0") == "1",
        "CASE_QUOTA_BYTES": int(env.get("ACCREDIT_CASE_QUOTA_BYTES", DEFAULT_CASE_QUOTA)),
        "REQUIRE_SCHEDULER": env.get("ACCREDIT_REQUIRE_SCHEDULER", "1") != "0",
        "DEPLOY_SHIPPED": env.get("ACCREDIT_DEPLOY_SHIPPED", "1") != "0",
        "DEMO": env.get("ACCREDIT_DEMO", "0") == "1",
        "TRUSTED_PROXIES": env.get("ACCREDIT_TRUSTED_PROXIES", "0"),
    }


class UnsafeConfiguration(RuntimeError):
    """The server refuses to start with a default that is unsafe outside a demo installation."""


def _lifetimes(config):
    from datetime import timedelta

    from engine.users.credentials import Lifetimes

    return Lifetimes(session_idle=timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
                     session_absolute=timedelta(hours=config["SESSION_MAX_HOURS"]),
                     token=timedelta(days=config["TOKEN_DAYS"]))


def _require_secret_key(app: Flask, identity: Identity) -> None:
    """No start without ACCREDIT_SECRET_KEY, except in demo mode (ACCREDIT_DEMO=1, or a database marked by
    `accredit demo`), where the demo database's own random key is used (the same for every worker)."""
    if app.config.get("SECRET_KEY"):
        return
    try:
        demo = identity.setting("demo_mode")
    except sa.exc.DBAPIError:  # no schema yet (create_app never migrates): not a demo installation
        demo = False
    if app.config["DEMO"] or demo:
        try:
            app.config["SECRET_KEY"] = identity.demo_session_key()
        except sa.exc.DBAPIError:  # ACCREDIT_DEMO=1 on a database without its schema yet: this process's own
            app.config["SECRET_KEY"] = secrets.token_hex(32)
        return
    raise UnsafeConfiguration("ACCREDIT_SECRET_KEY is not set: set it to a long random value (e.g. "
                              "`python -c 'import secrets; print(secrets.token_hex(32))'`) before serving; only a "
                              "demo installation (`accredit demo`) starts without one")


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    from .logging import install as install_request_logging

    install_request_logging(app)  # first: every later hook and error handler sees the request id
    from .fields import Int64Converter

    app.url_map.converters["int"] = Int64Converter  # before any route: path numbers stay within 64 bits
    app.json.sort_keys = False  # forms keep their schema's field order on the page
    app.config.update(env_config())
    app.config.update(config or {})
    from engine.config import absolute_paths

    app.config.update(absolute_paths(app.config))  # once, at start-up: never re-read against another directory
    app.config.update(
        MAX_CONTENT_LENGTH=app.config["MAX_UPLOAD_BYTES"] + 64 * 1024,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(app.config["SECURE_COOKIES"]),
        API_TITLE="accredit", API_VERSION="1", OPENAPI_VERSION="3.0.3", OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json", OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/api/docs/assets/",
    )

    db = Database(app.config["DATABASE_URL"])  # no side effects: `accredit serve` / `db upgrade` migrate
    engine = Engine(db)
    identity = Identity(db, _lifetimes(app.config))
    _require_secret_key(app, identity)
    workspace = Workspace(db, engine, identity, Path(app.config["ATTACHMENTS_DIR"]),
                          max_upload=app.config["MAX_UPLOAD_BYTES"], case_quota=app.config["CASE_QUOTA_BYTES"])
    app.extensions["accredit"] = Services(db, engine, identity, workspace)
    app.extensions["accredit.engine"] = engine
    api = _ProblemApi(app, spec_kwargs={"info": {"description": "Accreditation workflow API. Errors are RFC 9457 "
                                                        "application/problem+json."}})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("session", {"type": "apiKey", "in": "cookie", "name": "session"})
    api.spec.options["security"] = [{"bearer": []}, {"session": []}]
    from .resources import register
    from .web import bp as web_pages
    from .web_admin import bp as admin_pages

    register(api, app)
    from .resources.meta import _live, _ready

    app.add_url_rule("/healthz", "healthz", _live)  # liveness and readiness at the conventional root paths
    app.add_url_rule("/readyz", "readyz", _ready)
    app.register_blueprint(web_pages)  # staff web pages (docs/web-ui.md)
    app.register_blueprint(admin_pages)  # administration page (docs/admin-guide.md)
    from .web_audit import bp as audit_pages

    app.register_blueprint(audit_pages)  # audit console and step heat (docs/auditor-guide.md)
    from .web_studio import bp as studio_pages

    app.register_blueprint(studio_pages)  # the process studio (docs/quality-manager-guide.md)

    @app.before_request
    def _authenticate_first():
        # 401 before any request body or query is validated: anonymous callers get no 422s
        from flask import request

        from .auth import check_same_origin, current_actor
        from .fields import check_json_body, check_request_text

        check_same_origin()  # cross-site writes refused before anything else (CSRF)
        if request.path.startswith("/api/") and not request.path.startswith(_PUBLIC):
            current_actor()
        if request.method in ("POST", "PUT", "PATCH") and request.content_length and request.mimetype not in (
                "application/json", "multipart/form-data") and not request.mimetype.endswith("+json"):
            from werkzeug.exceptions import UnsupportedMediaType

            raise UnsupportedMediaType(f"send JSON (Content-Type: application/json) or multipart/form-data, "
                                       f"not {request.mimetype or 'no content type'}")
        check_json_body(request)  # depth, numbers, NUL before any code walks the body: a 400, never a 500
        check_request_text(request)  # a NUL character no text column can hold: a 400, never the driver's error

    register_error_handlers(app)  # after Api(): ours must win over flask-smorest's JSON handler
    _trust_proxies(app, app.config.get("TRUSTED_PROXIES", 0))
    return app


def _trust_proxies(app: Flask, hops) -> None:
    """Behind ``hops`` reverse proxies (ACCREDIT_TRUSTED_PROXIES), take the client address, scheme and host from
    the X-Forwarded-For/-Proto/-Host values those proxies appended — only the last ``hops`` of each, so a client
    cannot forge its address by sending the headers itself. 0 (the default): the headers are ignored."""
    try:
        hops = int(hops or 0)
    except (TypeError, ValueError):
        raise UnsafeConfiguration(f"ACCREDIT_TRUSTED_PROXIES must be a whole number, not {hops!r}") from None
    if hops < 0:
        raise UnsafeConfiguration(f"ACCREDIT_TRUSTED_PROXIES must be 0 or more, not {hops}")
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
