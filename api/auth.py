"""Authentication: bearer API tokens for clients, an opaque server-side session for the browser, and the
cross-site request check for cookie-authenticated writes.

``Authorization: Bearer acc_…`` is checked against the stored SHA-256 of issued, unexpired, unrevoked tokens.
Browser sessions are created by ``POST /api/session`` (username + password): the signed cookie carries only
the session's random secret (never an API token), and the server refuses it after ``SESSION_IDLE_MINUTES``
without a request (Part 11 inactivity logout) or ``SESSION_MAX_HOURS`` after sign-in, at sign-out, and once
the account is deactivated. The checks live in engine/users/credentials.py; this module only reads the request.
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, g, request, session

from engine.actors import Actor
from engine.errors import EngineError, Forbidden
from engine.users.identity import SessionEnded


class Unauthenticated(EngineError):
    kind = "unauthenticated"


class CrossSiteRefused(Forbidden):
    kind = "cross-site-request"


def services():
    return current_app.extensions["accredit"]


def current_actor() -> Actor:
    if "actor" in g:
        return g.actor
    header = request.headers.get("Authorization", "")
    actor = None
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("use 'Authorization: Bearer <token>'")
        actor = services().identity.actor_for_token(token.strip())
        if actor is None:
            raise Unauthenticated("the token is not valid (unknown, expired or revoked)")
    elif session.get("sid"):
        try:
            actor = services().identity.actor_for_session(session["sid"])
        except SessionEnded as ended:
            session.clear()
            raise Unauthenticated(str(ended)) from None
    if actor is None:
        raise Unauthenticated("sign in (POST /api/session) or send a bearer token")
    g.actor = actor
    return actor


_SAFE = ("GET", "HEAD", "OPTIONS")


def check_same_origin() -> None:
    """Refuse a state-changing request that a browser sent from another site (CSRF), whatever its body
    (JSON, multipart, none). Bearer-token requests are exempt: a browser never adds that header by itself.

    A browser tells where a request comes from: ``Sec-Fetch-Site`` (must be ``same-origin``) or, failing that,
    ``Origin`` (must be this site's scheme, host and port — another port of the same host is another site).
    A request carrying the session cookie with neither header is not one a browser makes cross-site, but it
    must then carry ``X-CSRF-Token`` equal to the session's token (defence in depth for unusual clients)."""
    if request.method in _SAFE or request.headers.get("Authorization"):
        return
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if fetch_site is not None:
        if fetch_site != "same-origin":
            raise CrossSiteRefused(f"cross-site request refused (Sec-Fetch-Site: {fetch_site})")
        return
    if origin is not None:
        if not _is_this_site(origin):
            raise CrossSiteRefused(f"cross-site request refused (Origin: {origin[:200]})")
        return
    if session.get("sid") and request.headers.get("X-CSRF-Token") != session.get("csrf"):
        raise CrossSiteRefused("a signed-in browser request must come from this site (Origin header) or carry "
                               "the session's X-CSRF-Token")


def _is_this_site(origin: str) -> bool:
    parts = urlsplit(origin)
    if parts.netloc.lower() != request.host.lower():
        return False
    # behind a TLS-terminating proxy the app may see http while the browser says https
    return parts.scheme == request.scheme or (parts.scheme == "https" and current_app.config.get("SECURE_COOKIES"))


def require_role(*roles: str):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            actor = current_actor()
            if not actor.roles & set(roles):
                raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
            return view(*args, **kwargs)
        return wrapper
    return decorator


def authenticated(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        current_actor()
        return view(*args, **kwargs)
    return wrapper
