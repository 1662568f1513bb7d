"""Users, roles, organisations and API tokens — and authentication with failed-login throttling.

Passwords are hashed with argon2id (argon2-cffi). API tokens are random 256-bit secrets of which only the
SHA-256 is stored. Every login, failed login and throttled attempt is a system event in the history.
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import history
from .actors import ROLES, Actor
from .db import Database
from .errors import Conflict, EngineError, InvalidFormData, NotFound
from .models import ApiToken, Event, Organisation, User, UserRole, utcnow

USERNAME = re.compile(r"^[a-z0-9_.-]{1,64}$")
MIN_PASSWORD = 10
#: failed logins for one username within the window before further attempts are refused
MAX_FAILED_LOGINS = 5
#: failed logins for one username from all sources together within the window
MAX_FAILED_LOGINS_ALL_SOURCES = 50
FAILED_LOGIN_WINDOW = timedelta(minutes=15)

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
    def __init__(self, db: Database):
        self.db = db

    # -- administration ----------------------------------------------------------------------------
    def create_organisation(self, org_id: str, name: str, by: str = "system") -> None:
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
        errors = []
        if not USERNAME.match(username or ""):
            errors.append({"field": "/username", "message": "1-64 characters of a-z, 0-9, _ . -"})
        if len(password or "") < MIN_PASSWORD:
            errors.append({"field": "/password", "message": f"at least {MIN_PASSWORD} characters"})
        unknown = [r for r in roles if r not in ROLES]
        if unknown or not roles:
            errors.append({"field": "/roles", "message": f"roles must be among {', '.join(ROLES)}"})
        if "applicant" in roles and not organisation_id:
            errors.append({"field": "/organisation_id", "message": "an applicant belongs to an organisation"})
        if errors:
            raise InvalidFormData("the user cannot be created", errors)
        with self.db.write() as s:
            if s.scalar(sa.select(User).where(User.username == username)) is not None:
                raise Conflict(f"user '{username}' exists already", username=username)
            if organisation_id and s.get(Organisation, organisation_id) is None:
                raise NotFound(f"organisation '{organisation_id}' does not exist", organisation_id=organisation_id)
            user = User(username=username, display_name=display_name or username, email=email,
                        password_hash=_hasher.hash(password), organisation_id=organisation_id, active=True,
                        created_at=utcnow(), roles=[UserRole(role=r) for r in roles])
            s.add(user)
            history.record_system(s, by, "user.created", {"username": username, "roles": roles,
                                                          "organisation_id": organisation_id})
            s.flush()
            return _view(user)

    def set_roles(self, username: str, roles, by: str = "system") -> UserView:
        roles = sorted(set(roles))
        if not roles or any(r not in ROLES for r in roles):
            raise InvalidFormData("unknown role", [{"field": "/roles", "message": f"among {', '.join(ROLES)}"}])
        with self.db.write() as s:
            user = self._user(s, username)
            old = sorted(r.role for r in user.roles)
            user.roles = [UserRole(role=r) for r in roles]
            history.record_system(s, by, "user.roles_changed", {"username": username, "old": old, "new": roles})
            s.flush()
            return _view(user)

    def deactivate(self, username: str, by: str = "system") -> None:
        with self.db.write() as s:
            self._user(s, username).active = False
            history.record_system(s, by, "user.deactivated", {"username": username})

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

        A refusal is raised only after its event is committed: raised inside the transaction, it would roll
        the 'login.failed' event back, and throttling counts those events."""
        refusal: EngineError | None = None
        with self.db.write() as s:
            since = utcnow() - FAILED_LOGIN_WINDOW
            recent = s.scalars(sa.select(Event.data).where(
                Event.case_id.is_(None), Event.action == "login.failed", Event.actor == username,
                Event.occurred_at >= since)).all()
            from_here = sum(1 for d in recent if (d or {}).get("source") == source)
            # per source, so a stranger guessing cannot lock the real user out from their own machine;
            # and a higher cap over all sources against guessing from many addresses
            if from_here >= MAX_FAILED_LOGINS or len(recent) >= MAX_FAILED_LOGINS_ALL_SOURCES:
                history.record_system(s, username, "login.throttled", {"source": source})
                refusal = TooManyAttempts(f"too many failed logins; try again in {FAILED_LOGIN_WINDOW.seconds // 60} "
                                          "minutes", retry_after=int(FAILED_LOGIN_WINDOW.total_seconds()))
            else:
                user = s.scalar(sa.select(User).where(User.username == username))
                ok = False
                if user is not None and user.active:
                    try:
                        ok = _hasher.verify(user.password_hash, password)
                    except (VerificationError, InvalidHashError):
                        ok = False
                else:
                    _hasher.hash(password or "x")  # same cost whether or not the user exists
                if not ok:
                    history.record_system(s, username, "login.failed", {"source": source})
                    refusal = AuthenticationFailed("wrong username or password")
                else:
                    if _hasher.check_needs_rehash(user.password_hash):
                        user.password_hash = _hasher.hash(password)
                    history.record_system(s, username, "login", {"source": source})
                    actor = _view(user).actor()
        if refusal is not None:
            raise refusal
        return actor

    def verify_password(self, username: str, password: str) -> bool:
        """Re-check a password (electronic signatures re-enter it) without recording a login."""
        with self.db.read() as s:
            user = s.scalar(sa.select(User).where(User.username == username))
            if user is None or not user.active:
                return False
            try:
                return _hasher.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

    def actor(self, username: str) -> Actor | None:
        with self.db.read() as s:
            user = s.scalar(sa.select(User).where(User.username == username))
            return _view(user).actor() if user is not None and user.active else None

    def record_system_event(self, actor_name: str, action: str, data: dict | None = None) -> None:
        """A system event outside any case (e.g. a permission denial seen by the HTTP layer)."""
        with self.db.write() as s:
            history.record_system(s, actor_name, action, data)

    # -- API tokens --------------------------------------------------------------------------------
    def issue_token(self, username: str, name: str = "api") -> str:
        token = "acc_" + secrets.token_urlsafe(32)
        with self.db.write() as s:
            user = self._user(s, username)
            s.add(ApiToken(user_id=user.id, name=name, token_hash=_digest(token), created_at=utcnow()))
            history.record_system(s, username, "token.issued", {"name": name})
        return token

    def actor_for_token(self, token: str) -> Actor | None:
        with self.db.write() as s:
            row = s.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token),
                                                     ApiToken.revoked.is_(False)))
            if row is None:
                return None
            user = s.get(User, row.user_id)
            if user is None or not user.active:
                return None
            row.last_used_at = utcnow()
            return _view(user).actor()

    def revoke_token(self, token: str, by: str = "system") -> bool:
        """Revoke one token (a browser session's at sign-out)."""
        with self.db.write() as s:
            row = s.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token)))
            if row is None or row.revoked:
                return False
            row.revoked = True
            history.record_system(s, by, "token.revoked", {"name": row.name, "count": 1})
            return True

    def revoke_tokens(self, username: str, by: str = "system") -> int:
        with self.db.write() as s:
            user = self._user(s, username)
            rows = s.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))).all()
            for r in rows:
                r.revoked = True
            history.record_system(s, by, "token.revoked", {"username": username, "count": len(rows)})
            return len(rows)

    @staticmethod
    def _user(s, username: str) -> User:
        user = s.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"user '{username}' does not exist", username=username)
        return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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
    """Demo organisations and one user per role (for trying accredit locally). Idempotent."""
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
