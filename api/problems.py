"""RFC 9457 problem details for every API error — never an HTML page or a stack trace."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from engine.errors import (
    Conflict,
    DefinitionInvalid,
    EngineError,
    Forbidden,
    InvalidFormData,
    NotFound,
    ProcessError,
    TooLarge,
)
from engine.users.identity import AuthenticationFailed, TooManyAttempts

from .auth import Unauthenticated

_STATUS = [(NotFound, 404), (Forbidden, 403), (Conflict, 409), (InvalidFormData, 422), (DefinitionInvalid, 422),
           (ProcessError, 422), (TooLarge, 413), (AuthenticationFailed, 401), (Unauthenticated, 401), (TooManyAttempts, 429)]
_MEMBERS = {"type", "title", "status", "detail", "instance", "kind", "headers"}
_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           409: "Conflict", 413: "Payload too large", 415: "Unsupported media type", 422: "Unprocessable content",
           429: "Too many requests", 500: "Internal server error"}


def problem(status: int, detail: str | None = None, *, kind: str | None = None, headers: dict | None = None, **extra):
    title = _TITLES.get(status, "Error")
    body = {"type": f"https://accredit.example/problems/{kind or title.lower().replace(' ', '-')}",
            "title": title, "status": status, "instance": request.path if request else None}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    from .logging import request_id

    if request and request_id():
        body.setdefault("request_id", request_id())  # the same id as the response header and the log line
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def _flatten(messages, prefix="", top=True) -> list[dict]:
    """webargs/marshmallow {"json": {"field": ["msg"]}} -> [{"field": "/field", "message": "msg"}]. Only the
    outermost keys name a location: a body's own field called ``files`` or ``path`` is a field."""
    out = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "form", "files", "headers", "path") and top:
                out += _flatten(value, "", top=False)
            elif key == "_schema":  # marshmallow's error about the object itself (e.g. not an object)
                out += _flatten(value, prefix, top=False)
            else:
                out += _flatten(value, f"{prefix}/{key}", top=False)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out += [{"field": prefix or "/", "message": m} for m in messages]
    elif isinstance(messages, list):
        for i, m in enumerate(messages):
            out += _flatten(m, f"{prefix}/{i}", top=False)
    else:
        out.append({"field": prefix or "/", "message": str(messages)})
    return out


def _record_denial(app: Flask, exc: EngineError) -> None:
    from flask import g

    actor = g.get("actor")
    try:
        app.extensions["accredit"].identity.record_system_event(
            actor.username if actor else "anonymous", "permission.denied",
            {"method": request.method, "path": request.path, "reason": exc.message})
    except Exception:  # recording must never hide the 403 itself
        app.logger.exception("could not record a permission denial")


#: what people read as HTML when a page address fails (JSON problem details stay for /api/…)
_PAGE_MESSAGES = {404: ("Page not found", "There is no page at this address. It may have been mistyped, or the "
                                          "link that brought you here is out of date."),
                  405: ("Not allowed here", "This address does not accept that kind of request.")}


def _is_page(path: str) -> bool:
    """Browser pages (everything outside /api/ and the static assets) answer HTML errors."""
    return not (path == "/api" or path.startswith(("/api/", "/assets/")))


def _page_error(exc: HTTPException):
    """An HTML error page with the site's layout and a link home, with the HTTP status kept."""
    status = exc.code or 500
    title, message = _PAGE_MESSAGES.get(status, (_TITLES.get(status, "Error"), exc.description or ""))
    body = render_template("errors/page.html", page="error", status=status, title=title, message=message,
                           path=request.path)
    headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
    from .web import CSP

    headers.update({"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                    "X-Content-Type-Options": "nosniff", "Content-Security-Policy": CSP})
    return body, status, headers


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(EngineError)
    def _engine_error(exc: EngineError):
        status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 400)
        # a detail named like a problem member (e.g. a task's "status") must not clash with it
        extra = {(f"resource_{k}" if k in _MEMBERS else k): v for k, v in exc.details.items() if v is not None}
        headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
        if status == 403:
            _record_denial(app, exc)
        if status == 401:
            headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="accredit"'}
        return problem(status, exc.message, kind=exc.kind, headers=headers, **extra)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _is_page(request.path):
            return _page_error(exc)
        data = getattr(exc, "data", None) or {}
        extra = {}
        if "messages" in data:  # webargs / marshmallow validation
            extra["errors"] = _flatten(data["messages"])
        detail = exc.description if isinstance(exc.description, str) else None
        if exc.code == 422 and extra.get("errors"):
            detail = "the request does not satisfy the schema: " + "; ".join(
                f"{e['field']}: {e['message']}" for e in extra["errors"][:5])
        # only Allow: werkzeug's headers also carry Content-Type: text/html, which would replace ours
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"} if exc.code == 405 else None
        return problem(exc.code or 500, detail, headers=headers, **extra)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return problem(500, "an unexpected error occurred; it was logged")
