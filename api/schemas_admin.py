"""Schemas of the administration API (users, organisations, API tokens) — kept apart from api/schemas.py."""
from __future__ import annotations

from .fields import Int64
from marshmallow import Schema, fields, validate

from engine.vocabulary import ROLES


class TokenInfoSchema(Schema):
    id = Int64()
    username = fields.String()
    name = fields.String()
    created_at = fields.String()
    expires_at = fields.String(allow_none=True)
    last_used_at = fields.String(allow_none=True, metadata={"description": "refreshed at most every 15 minutes"})
    status = fields.String(metadata={"description": "active, expired or revoked"})
    revoked_at = fields.String(allow_none=True)
    revoked_by = fields.String(allow_none=True)


class UserSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    email = fields.String(allow_none=True)
    organisation_id = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    active = fields.Boolean()


_roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), validate=validate.Length(min=1, max=len(ROLES)))


class UserCreateSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1024))
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=validate.Length(min=1, max=len(ROLES)))
    display_name = fields.String(validate=validate.Length(min=1, max=400))
    email = fields.String(allow_none=True, validate=validate.Length(max=400))
    organisation_id = fields.String(allow_none=True, validate=validate.Length(max=100))


class UserUpdateSchema(Schema):
    """Only the fields sent are changed. ``active: false`` deactivates: sign-in refused, sessions ended and
    tokens revoked at once."""

    display_name = fields.String(validate=validate.Length(min=1, max=400))
    email = fields.String(allow_none=True, validate=validate.Length(max=400))
    organisation_id = fields.String(allow_none=True, validate=validate.Length(max=100))
    roles = _roles
    active = fields.Boolean()


class OrganisationSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_.-]{0,99}$",
                                                                error="1-100 characters of a-z, 0-9, _ . -"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=400))


class UserQuerySchema(Schema):
    active = fields.Boolean(metadata={"description": "only active (true) or deactivated (false) users"})
