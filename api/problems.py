"""RFC 9457 problem details for every API error — never an HTML page or a stack trace."""
from __future__ import annotations

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from engine.errors import Conflict, DefinitionInvalid, EngineError, Forbidden, InvalidFormData, NotFound, ProcessError

_STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, InvalidFormData: 422, DefinitionInvalid: 422,
           ProcessError: 422}


def problem(status: int, title: str, detail: str | None = None, **extra):
    body = {"type": f"https://accredit.example/problems/{title.lower().replace(' ', '-')}", "title": title,
            "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError):
        status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
        extra = {k: v for k, v in exc.details.items() if v is not None}
        return problem(status, exc.kind.replace("-", " ").capitalize(), exc.message, **extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return problem(exc.code or 500, exc.name, exc.description)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return problem(500, "Internal server error", "the error was logged")
