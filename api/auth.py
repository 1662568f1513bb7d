"""Authentication: bearer API tokens for clients, a session cookie for the browser.

``Authorization: Bearer acc_…`` is checked against the stored SHA-256 of issued tokens. Browser sessions
are created by ``POST /api/session`` (username + password) and end after a period of inactivity
(``SESSION_IDLE_MINUTES``, default 15) — Part 11 asks for an inactivity logout.
"""
from __future__ import annotations

import time
from functools import wraps

from flask import current_app, g, request, session

from engine.actors import Actor
from engine.errors import EngineError, Forbidden


class Unauthenticated(EngineError):
    kind = "unauthenticated"


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
            raise Unauthenticated("the token is not valid (unknown or revoked)")
    elif session.get("username"):
        idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
        if time.time() - session.get("last_seen", 0) > idle:
            session.clear()
            raise Unauthenticated("the session ended after inactivity; sign in again")
        # the cookie carries a server-side session token: signing out revokes it, so a copied cookie dies too
        actor = services().identity.actor_for_token(session.get("token", ""))
        if actor is None or actor.username != session["username"]:
            session.clear()
            raise Unauthenticated("the session has ended (signed out, or the account is no longer active)")
        session["last_seen"] = time.time()
    if actor is None:
        raise Unauthenticated("sign in (POST /api/session) or send a bearer token")
    g.actor = actor
    return actor


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
