"""Sign in and out (browser session), who am I, and personal API tokens."""
from __future__ import annotations

import time

from flask import request, session
from flask_smorest import Blueprint

from ..auth import current_actor, services
from ..schemas import LoginSchema, MeSchema, TokenCreateSchema, TokenSchema

blp = Blueprint("session", __name__, url_prefix="/api", description="Sign in, sign out, tokens")


def _me(actor):
    return {"username": actor.username, "display_name": actor.printed_name, "roles": sorted(actor.roles),
            "organisation_id": actor.organisation_id}


@blp.post("/session")
@blp.arguments(LoginSchema)
@blp.response(200, MeSchema)
def login(creds):
    """Sign in with username and password; sets the session cookie. Failed logins are throttled."""
    actor = services().identity.authenticate(creds["username"], creds["password"], source=request.remote_addr)
    session.clear()
    session["username"] = actor.username
    session["token"] = services().identity.issue_token(actor.username, "browser session")
    session["last_seen"] = time.time()
    return _me(actor)


@blp.delete("/session")
@blp.response(204)
def logout():
    """Sign out. The session is revoked on the server: a copy of the cookie no longer works."""
    if session.get("token"):
        services().identity.revoke_token(session["token"], by=session.get("username", "anonymous"))
    session.clear()


@blp.get("/me")
@blp.response(200, MeSchema)
def me():
    """The signed-in user."""
    return _me(current_actor())


@blp.post("/tokens")
@blp.arguments(TokenCreateSchema)
@blp.response(201, TokenSchema)
def create_token(args):
    """Issue a personal API token (shown once)."""
    actor = current_actor()
    return {"token": services().identity.issue_token(actor.username, args["name"]), "name": args["name"]}
