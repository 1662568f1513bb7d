"""Users, roles, organisations and API tokens — and authentication with failed-login throttling.

Passwords are hashed with argon2id (argon2-cffi). API tokens are random 256-bit secrets of which only the
SHA-256 is stored. Every login, failed login and throttled attempt is a system event in the history.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import credentials, throttle
from engine.records import history
from engine.actors import Actor
from .credentials import Lifetimes, SessionEnded  # noqa: F401 - re-exported for the API layer
from engine.storage.db import Database
from engine.errors import Conflict, EngineError, InvalidFormData, NotFound
from engine.storage.models import ApiToken, Organisation, Setting, User, UserRole, utcnow
from engine.vocabulary import APPLICANT, ROLES

USERNAME = re.compile(r"^[a-z0-9_.-]{1,64}$")
ORGANISATION_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
MIN_PASSWORD = 10
#: failed logins for one username within the window before further attempts are refused
MAX_FAILED_LOGINS = 5
#: failed logins for one username from all sources together within the window
MAX_FAILED_LOGINS_ALL_SOURCES = 50
FAILED_LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_LIMIT = throttle.Limit(MAX_FAILED_LOGINS, MAX_FAILED_LOGINS_ALL_SOURCES, FAILED_LOGIN_WINDOW)
#: failed signatures of one signer within the window (a signer signs from their own session: no per-source cap)
SIGNATURE_LIMIT = throttle.Limit(MAX_FAILED_LOGINS, MAX_FAILED_LOGINS, FAILED_LOGIN_WINDOW)

def _make_hasher() -> PasswordHasher:
    """argon2id with the library's (RFC 9106 low-memory) defaults. ``ACCREDIT_PASSWORD_HASH=fast`` gives a
    deliberately cheap hash for test suites that create hundreds of users — never set it in production."""
    if os.environ.get("ACCREDIT_PASSWORD_HASH") == "fast":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


_hasher = _make_hasher()


class AuthenticationFailed(EngineError):
    kind = "authentication-failed"


class TooManyAttempts(EngineError):
    kind = "too-many-attempts"


@dataclass
class UserView:
    username: str
    display_name: str
    email: str | None
    organisation_id: str | None
    roles: list[str]
    active: bool

    def actor(self) -> Actor:
        return Actor(self.username, frozenset(self.roles), self.organisation_id, self.display_name)


def _view(u: User) -> UserView:
    return UserView(u.username, u.display_name, u.email, u.organisation_id, sorted(r.role for r in u.roles), u.active)


class Identity:
    def __init__(self, db: Database, lifetimes: Lifetimes | None = None):
        self.db = db
        self.lifetimes = lifetimes or Lifetimes()

    # -- settings ----------------------------------------------------------------------------------
    def setting(self, key: str, default=None):
        with self.db.read() as s:
            row = s.get(Setting, key)
            return row.value if row is not None else default

    def demo_session_key(self) -> str:
        return credentials.demo_session_key(self.db)

    def set_setting(self, key: str, value, by: str = "system") -> None:
        with self.db.write() as s:
            row = s.get(Setting, key)
            old = row.value if row is not None else None
            if row is None:
                s.add(Setting(key=key, value=value))
            else:
                row.value = value
            if old != value:
                history.record_system(s, by, "setting.changed", {"key": key, "old": old, "new": value})

    # -- administration ----------------------------------------------------------------------------
    def create_organisation(self, org_id: str, name: str, by: str = "system") -> None:
        errors = []  # checked here, not only in the API's schema: `accredit orgs create` comes this way too
        if not ORGANISATION_ID.match(org_id or ""):
            errors.append({"field": "/id", "message": "1-100 characters of a-z, 0-9, _ . - (starting with a letter "
                                                      "or digit)"})
        if not (name or "").strip() or len(name) > 400:
            errors.append({"field": "/name", "message": "a name of 1-400 characters"})
        if errors:
            raise InvalidFormData("the organisation cannot be created", errors)
        with self.db.write() as s:
            if s.get(Organisation, org_id) is not None:
                raise Conflict(f"organisation '{org_id}' exists already", organisation_id=org_id)
            s.add(Organisation(id=org_id, name=name, created_at=utcnow()))
            history.record_system(s, by, "organisation.created", {"organisation_id": org_id, "name": name})

    def organisations(self) -> list[dict]:
        with self.db.read() as s:
            return [{"id": o.id, "name": o.name} for o in s.scalars(sa.select(Organisation).order_by(Organisation.id))]

    def create_user(self, username: str, password: str, roles, *, display_name: str | None = None,
                    organisation_id: str | None = None, email: str | None = None, by: str = "system") -> UserView:
        roles = sorted(set(roles))
        organisation_id = organisation_id or None  # "" is "none", not an id
        errors = []
        if not USERNAME.match(username or ""):
            errors.append({"field": "/username", "message": "1-64 characters of a-z, 0-9, _ . -"})
        if len(password or "") < MIN_PASSWORD:
            errors.append({"field": "/password", "message": f"at least {MIN_PASSWORD} characters"})
        unknown = [r for r in roles if r not in ROLES]
        if unknown or not roles:
            errors.append({"field": "/roles", "message": f"roles must be among {', '.join(ROLES)}"})
        if APPLICANT in roles and not organisation_id:
            errors.append({"field": "/organisation_id", "message": "an applicant belongs to an organisation"})
        if errors:
            raise InvalidFormData("the user cannot be created", errors)
        password_hash = _hasher.hash(password)  # argon2 outside the write transaction
        with self.db.write() as s:
            if s.scalar(sa.select(User).where(User.username == username)) is not None:
                raise Conflict(f"user '{username}' exists already", username=username)
            if organisation_id and s.get(Organisation, organisation_id) is None:
                raise NotFound(f"organisation '{organisation_id}' does not exist", organisation_id=organisation_id)
            user = User(username=username, display_name=display_name or username, email=email,
                        password_hash=password_hash, organisation_id=organisation_id, active=True,
                        created_at=utcnow(), roles=[UserRole(role=r) for r in roles])
            s.add(user)
            history.record_system(s, by, "user.created", {"username": username, "roles": roles,
                                                          "organisation_id": organisation_id})
            s.flush()
            return _view(user)

    def set_roles(self, username: str, roles, by: str = "system") -> UserView:
        return self.update_user(username, {"roles": roles}, by=by)

    def deactivate(self, username: str, by: str = "system") -> UserView:
        return self.update_user(username, {"active": False}, by=by)

    def reactivate(self, username: str, by: str = "system") -> UserView:
        return self.update_user(username, {"active": True}, by=by)

    def update_user(self, username: str, changes: dict, by: str = "system") -> UserView:
        """Change any of display_name, email, organisation_id, roles, active — in one transaction, each kind
        of change recorded in the system history with old and new values.

        Deactivation is Part 11 account control: the user can no longer sign in, and their sessions and tokens
        stop working at once (sessions are ended and tokens revoked, so a reactivation revives neither)."""
        changes = dict(changes)
        if "organisation_id" in changes:
            changes["organisation_id"] = changes["organisation_id"] or None  # "" is "none", not an id
        roles = sorted(set(changes["roles"])) if "roles" in changes else None
        if roles is not None and (not roles or any(r not in ROLES for r in roles)):
            raise InvalidFormData("unknown role", [{"field": "/roles", "message": f"among {', '.join(ROLES)}"}])
        with self.db.write() as s:
            user = self._user(s, username)
            org = changes.get("organisation_id", user.organisation_id)
            if "organisation_id" in changes and org and s.get(Organisation, org) is None:
                raise NotFound(f"organisation '{org}' does not exist", organisation_id=org)
            if not org and APPLICANT in (roles if roles is not None else [r.role for r in user.roles]):
                raise InvalidFormData("an applicant belongs to an organisation",
                                      [{"field": "/organisation_id", "message": "required for an applicant"}])
            old, new = {}, {}
            for key in ("display_name", "email", "organisation_id"):
                if key in changes and changes[key] != getattr(user, key):
                    old[key], new[key] = getattr(user, key), changes[key]
                    setattr(user, key, changes[key])
            if new:
                history.record_system(s, by, "user.updated", {"username": username, "old": old, "new": new})
            if roles is not None:
                was = sorted(r.role for r in user.roles)
                if was != roles:
                    user.roles = [UserRole(role=r) for r in roles]
                    history.record_system(s, by, "user.roles_changed", {"username": username, "old": was,
                                                                        "new": roles})
            if "active" in changes and bool(changes["active"]) != user.active:
                user.active = bool(changes["active"])
                if user.active:
                    history.record_system(s, by, "user.reactivated", {"username": username})
                else:
                    sessions = credentials.end_sessions_of(s, user)
                    tokens = credentials.revoke_rows(s, s.scalars(sa.select(ApiToken).where(
                        ApiToken.user_id == user.id, ApiToken.revoked.is_(False))).all(), by)
                    history.record_system(s, by, "user.deactivated", {"username": username,
                                                                      "sessions_ended": sessions,
                                                                      "tokens_revoked": tokens})
            s.flush()
            return _view(user)

    def get_user(self, username: str) -> UserView:
        with self.db.read() as s:
            return _view(self._user(s, username))

    def users(self) -> list[UserView]:
        with self.db.read() as s:
            return [_view(u) for u in s.scalars(sa.select(User).order_by(User.username))]

    def users_with_role(self, role: str) -> list[str]:
        with self.db.read() as s:
            return list(s.scalars(sa.select(User.username).join(UserRole).where(UserRole.role == role,
                                                                                User.active.is_(True))))

    # -- authentication ----------------------------------------------------------------------------
    def authenticate(self, username: str, password: str, source: str | None = None) -> Actor:
        """Check a password. Refuses (and records) after too many recent failures for that username from that
        source (5 in 15 minutes), or from all sources together (50).

        The attempt is counted before the password is verified (engine/users/throttle.py), and argon2 runs outside
        any transaction, so parallel guesses are held to the limit and a flood of them never holds a write
        lock others wait for. A refusal is raised only after its event is committed."""
        attempt = self._begin_attempt("login", username, source, LOGIN_LIMIT, {"source": source})
        user_id, ok, rehash = self._check_password(username, password)
        with self.db.write() as s:
            throttle.finish(s, attempt, ok)
            if not ok:
                history.record_system(s, username, "login.failed", {"source": source})
            else:
                user = s.get(User, user_id)
                if rehash:
                    user.password_hash = rehash
                history.record_system(s, username, "login", {"source": source})
                actor = _view(user).actor()
        if not ok:
            raise AuthenticationFailed("wrong username or password")
        return actor

    def _begin_attempt(self, kind: str, username: str, source: str | None, limit: int, details: dict):
        """Count a password check of ``kind`` (login, signature) before it runs, in its own transaction; past
        the limit, record ``<kind>.throttled`` and raise TooManyAttempts."""
        with self.db.write() as s:
            attempt = throttle.begin(s, kind, username, source, limit)
            if attempt is None:
                history.record_system(s, username, f"{kind}.throttled", details)
        if attempt is None:
            raise TooManyAttempts(f"too many failed {kind}s; try again in {FAILED_LOGIN_WINDOW.seconds // 60} "
                                  "minutes", retry_after=int(FAILED_LOGIN_WINDOW.total_seconds()))
        return attempt

    def _check_password(self, username: str, password: str) -> tuple[int | None, bool, str | None]:
        """(user id, password right, new hash if the stored one needs an upgrade) — no transaction held while
        argon2 runs; the same cost whether or not the user exists."""
        with self.db.read() as s:
            row = s.execute(sa.select(User.id, User.password_hash, User.active)
                            .where(User.username == username)).first()
        if row is None or not row.active:
            _hasher.hash(password or "x")
            return None, False, None
        try:
            ok = _hasher.verify(row.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
        rehash = _hasher.hash(password) if ok and _hasher.check_needs_rehash(row.password_hash) else None
        return row.id, ok, rehash

    def check_signature_password(self, username: str, password: str, details: dict) -> None:
        """Re-check the password of a signer (throttled like sign-in, per user). Raises TooManyAttempts or
        AuthenticationFailed after recording ``signature.throttled`` / ``signature.failed``."""
        attempt = self._begin_attempt("signature", username, None, SIGNATURE_LIMIT, details)
        _, ok, _ = self._check_password(username, password)
        with self.db.write() as s:
            throttle.finish(s, attempt, ok)
            if not ok:
                history.record_system(s, username, "signature.failed", details)
        if not ok:
            raise AuthenticationFailed("the password does not match: the signature was not applied")

    def verify_password(self, username: str, password: str) -> bool:
        """Re-check a password without recording anything (no throttling: callers throttle)."""
        return self._check_password(username, password)[1]

    def actor(self, username: str) -> Actor | None:
        with self.db.read() as s:
            user = s.scalar(sa.select(User).where(User.username == username))
            return _view(user).actor() if user is not None and user.active else None

    def record_system_event(self, actor_name: str, action: str, data: dict | None = None) -> None:
        """A system event outside any case (e.g. a permission denial seen by the HTTP layer)."""
        with self.db.write() as s:
            history.record_system(s, actor_name, action, data)

    # -- browser sessions --------------------------------------------------------------------------
    def start_session(self, username: str, source: str | None = None) -> str:
        """A new browser session for a user who has just authenticated; returns the cookie's secret."""
        with self.db.write() as s:
            user = self._user(s, username)
            return credentials.start_session(s, user, source, self.lifetimes)

    def actor_for_session(self, secret: str) -> Actor:
        """The actor of a live session; raises SessionEnded (with the reason) otherwise."""
        return _view(credentials.session_user(self.db, secret, self.lifetimes)).actor()

    def end_session(self, secret: str, by: str = "anonymous") -> bool:
        with self.db.write() as s:
            row = credentials.end_session(s, secret)
            if row is not None:
                history.record_system(s, by, "session.ended", {"session": row.id})
            return row is not None

    # -- API tokens --------------------------------------------------------------------------------
    def issue_token(self, username: str, name: str = "api", by: str | None = None) -> str:
        with self.db.write() as s:
            user = self._user(s, username)
            token, row = credentials.issue(s, user, name, self.lifetimes.token)
            history.record_system(s, by or username, "token.issued", {"username": username, "name": name,
                                                                      "id": row.id,
                                                                      "expires_at": row.expires_at.isoformat()})
        return token

    def actor_for_token(self, token: str) -> Actor | None:
        return credentials.token_actor(self.db, token)

    def tokens(self, username: str) -> list[dict]:
        with self.db.read() as s:
            user = self._user(s, username)
            rows = s.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()
            return [credentials.token_view(r, username) for r in rows]

    def revoke_token_id(self, username: str, token_id: int, by: str) -> dict:
        """Revoke one of ``username``'s tokens by its id (404 if it is not theirs)."""
        with self.db.write() as s:
            user = self._user(s, username)
            row = s.get(ApiToken, token_id) if 0 < token_id < 2**63 else None
            if row is None or row.user_id != user.id:
                raise NotFound(f"user '{username}' has no token {token_id}", token_id=token_id)
            if not row.revoked:
                credentials.revoke_rows(s, [row], by)
                history.record_system(s, by, "token.revoked", {"username": username, "id": row.id,
                                                               "name": row.name, "count": 1})
            s.flush()
            return credentials.token_view(row, username)

    def revoke_tokens(self, username: str, by: str = "system") -> int:
        with self.db.write() as s:
            user = self._user(s, username)
            rows = s.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))).all()
            count = credentials.revoke_rows(s, rows, by)
            history.record_system(s, by, "token.revoked", {"username": username, "count": count})
            return count

    @staticmethod
    def _user(s, username: str) -> User:
        user = s.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"user '{username}' does not exist", username=username)
        return user


DEMO_PASSWORD = "demo-password"
DEMO_USERS = [
    # username, display name, roles, organisation
    ("applicant", "Dr Alice Director (North Cell Lab)", ["applicant"], "lab-north"),
    ("applicant2", "Dr Bob Quality (South Gene Lab)", ["applicant"], "lab-south"),
    ("coordinator", "Carol Coordinator", ["coordinator"], None),
    ("inspector", "Ines Lead Inspector", ["inspector"], None),
    ("inspector2", "Igor Inspector", ["inspector"], None),
    ("committee", "Cody Committee", ["committee"], None),
    ("committee2", "Cleo Committee", ["committee"], None),
    ("quality_manager", "Quinn Quality Manager", ["quality_manager"], None),
    ("auditor", "Audrey Auditor", ["auditor"], None),
    ("admin", "Adam Admin", ["admin"], None),
]


def create_demo(identity: Identity) -> list[tuple[str, str, list[str]]]:
    """Demo organisations and one user per role (for trying accredit locally). Idempotent. Marks the
    database as a demo installation (setting ``demo_mode``): `accredit serve` then starts without a secret
    key. Never run it against a production database."""
    identity.set_setting("demo_mode", True, by="demo")
    existing_orgs = {o["id"] for o in identity.organisations()}
    for org_id, name in (("lab-north", "North Cell Lab"), ("lab-south", "South Gene Lab")):
        if org_id not in existing_orgs:
            identity.create_organisation(org_id, name, by="demo")
    existing = {u.username for u in identity.users()}
    created = []
    for username, name, roles, org in DEMO_USERS:
        if username not in existing:
            identity.create_user(username, DEMO_PASSWORD, roles, display_name=name, organisation_id=org, by="demo")
        created.append((username, DEMO_PASSWORD, roles))
    return created
