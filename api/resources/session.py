"""Sign in and out (browser session), who am I, and personal API tokens (issue, list, revoke)."""
from __future__ import annotations

import secrets

from flask import request, session
from flask_smorest import Blueprint

from ..auth import current_actor, services
from ..schemas import LoginSchema, MeSchema, TokenCreateSchema, TokenSchema
from ..schemas_admin import TokenInfoSchema

blp = Blueprint("session", __name__, url_prefix="/api", description="Sign in, sign out, tokens")


def _me(actor):
    return {"username": actor.username, "display_name": actor.printed_name, "roles": sorted(actor.roles),
            "organisation_id": actor.organisation_id}


@blp.post("/session")
@blp.arguments(LoginSchema)
@blp.response(200, MeSchema)
def login(creds):
    """Sign in with username and password; sets the session cookie (an opaque server-side session, ended after
    inactivity and at a maximum length). Failed logins are throttled."""
    identity = services().identity
    actor = identity.authenticate(creds["username"], creds["password"], source=request.remote_addr)
    session.clear()  # a new session id at every sign-in (no fixation)
    session["sid"] = identity.start_session(actor.username, source=request.remote_addr)
    session["csrf"] = secrets.token_urlsafe(24)
    # for clients that send neither Origin nor Sec-Fetch-Site (browsers always send one): echo it back
    return _me(actor), 200, {"X-CSRF-Token": session["csrf"]}


@blp.delete("/session")
@blp.response(204)
def logout():
    """Sign out. The session ends on the server: a copy of the cookie no longer works."""
    if session.get("sid"):
        services().identity.end_session(session["sid"])
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
    """Issue a personal API token (shown once). It expires after the configured lifetime (default 90 days)."""
    actor = current_actor()
    return {"token": services().identity.issue_token(actor.username, args["name"]), "name": args["name"]}


@blp.get("/tokens")
@blp.response(200, TokenInfoSchema(many=True))
def list_tokens():
    """Your API tokens (never their secrets): name, created, expires, last used (to 15 minutes), status."""
    from engine.users.admin import Administration

    actor = current_actor()
    return Administration(services().identity).tokens(actor, actor.username)


@blp.delete("/tokens/<int:token_id>")
@blp.response(200, TokenInfoSchema)
def revoke_token(token_id):
    """Revoke one of your API tokens: it is refused from the next request on."""
    from engine.users.admin import Administration

    actor = current_actor()
    return Administration(services().identity).revoke_token(actor, actor.username, token_id)
