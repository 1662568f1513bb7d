"""Administration API (admin role): users, organisations, and each user's API tokens. Every route is one
engine call (engine/users/admin.py), which checks the role and records the change in the system history."""
from __future__ import annotations

from flask_smorest import Blueprint

from engine.users.admin import Administration

from ..auth import current_actor, services
from ..schemas_admin import (OrganisationSchema, TokenInfoSchema, UserCreateSchema, UserQuerySchema, UserSchema,
                             UserUpdateSchema)

blp = Blueprint("admin", __name__, url_prefix="/api/admin",
                description="Administration (admin role): users, organisations, API tokens")


def _admin() -> Administration:
    return Administration(services().identity)


@blp.get("/users")
@blp.arguments(UserQuerySchema, location="query")
@blp.response(200, UserSchema(many=True))
def list_users(query):
    """Every user with roles, organisation and whether the account is active."""
    return _admin().users(current_actor(), query.get("active"))


@blp.post("/users")
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
def create_user(data):
    """Create a user (password at least 10 characters; an applicant needs an organisation)."""
    return _admin().create_user(current_actor(), data)


@blp.get("/users/<username>")
@blp.response(200, UserSchema)
def get_user(username):
    return _admin().user(current_actor(), username)


@blp.patch("/users/<username>")
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def update_user(changes, username):
    """Change roles, organisation, name, email; ``active: false`` deactivates the account (sign-in refused,
    sessions ended and tokens revoked at once), ``active: true`` reactivates it."""
    return _admin().update_user(current_actor(), username, changes)


@blp.get("/users/<username>/tokens")
@blp.response(200, TokenInfoSchema(many=True))
def user_tokens(username):
    """A user's API tokens (never their secrets)."""
    return _admin().tokens(current_actor(), username)


@blp.delete("/users/<username>/tokens/<int:token_id>")
@blp.response(200, TokenInfoSchema)
def revoke_user_token(username, token_id):
    """Revoke one of a user's API tokens."""
    return _admin().revoke_token(current_actor(), username, token_id)


@blp.get("/organisations")
@blp.response(200, OrganisationSchema(many=True))
def list_organisations():
    return _admin().organisations(current_actor())


@blp.post("/organisations")
@blp.arguments(OrganisationSchema)
@blp.response(201, OrganisationSchema)
def create_organisation(data):
    """Create an organisation (a laboratory)."""
    return _admin().create_organisation(current_actor(), data)
