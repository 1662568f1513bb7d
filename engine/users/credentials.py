"""Browser sessions and API tokens: two separate kinds of credential, both opaque random secrets of which only
the SHA-256 is stored.

* A **browser session** (``browser_session``) is created at sign-in; the cookie carries only its secret.
  It ends after ``idle`` without a request and at the latest ``absolute`` after sign-in, at sign-out, and
  when the account is deactivated. It is not an API token: presented as a bearer token it is refused.
* An **API token** (``api_token``) is issued on request, expires (default lifetime configurable), and can be
  listed and revoked by its owner and by an administrator.

Looking up either writes nothing on the request path, with two bounded exceptions: a session's
``last_seen_at`` is refreshed when it is older than ``touch`` (a fraction of the idle time, at most a minute),
and a token's ``last_used_at`` at most every 15 minutes. An authenticated GET therefore writes nothing
almost always.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from engine.records import history
from engine.actors import Actor
from engine.storage.models import ApiToken, BrowserSession, Setting, User, UserRole, utcnow

TOKEN_LAST_USED_EVERY = timedelta(minutes=15)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Lifetimes:
    session_idle: timedelta = timedelta(minutes=15)
    session_absolute: timedelta = timedelta(hours=12)
    token: timedelta = timedelta(days=90)

    @property
    def touch(self) -> timedelta:
        """How stale ``last_seen_at`` may get before a request refreshes it: idle/10, at most a minute. The
        session may thus end up to this much earlier than ``idle`` after the last request, never later."""
        return min(timedelta(minutes=1), self.session_idle / 10)


class SessionEnded(Exception):
    """Why a session secret no longer identifies anyone (shown to the user)."""


# -- browser sessions ------------------------------------------------------------------------------

def start_session(s, user: User, source: str | None, life: Lifetimes) -> str:
    secret = "ses_" + secrets.token_urlsafe(32)
    now = utcnow()
    s.add(BrowserSession(user_id=user.id, secret_hash=digest(secret), created_at=now, last_seen_at=now,
                         expires_at=now + life.session_absolute, source=source))
    return secret


def session_user(db, secret: str, life: Lifetimes) -> User:
    """The active user of a live session; raises SessionEnded with the reason otherwise."""
    now = utcnow()
    with db.read() as s:
        row = s.scalar(sa.select(BrowserSession).where(BrowserSession.secret_hash == digest(secret)))
        user = s.get(User, row.user_id) if row is not None else None
        if row is None or row.ended_at is not None:
            raise SessionEnded("the session has ended (signed out, or replaced); sign in again")
        if user is None or not user.active:
            raise SessionEnded("the account is no longer active")
        if now >= row.expires_at:
            raise SessionEnded("the session reached its maximum length; sign in again")
        if now - row.last_seen_at > life.session_idle:
            raise SessionEnded("the session ended after inactivity; sign in again")
        stale = now - row.last_seen_at > life.touch
        session_id = row.id
        _ = user.roles  # loaded before the session closes
    if stale:
        with db.write() as s:
            s.execute(sa.update(BrowserSession).where(BrowserSession.id == session_id).values(last_seen_at=now))
    return user


def end_session(s, secret: str) -> BrowserSession | None:
    row = s.scalar(sa.select(BrowserSession).where(BrowserSession.secret_hash == digest(secret),
                                                   BrowserSession.ended_at.is_(None)))
    if row is not None:
        row.ended_at = utcnow()
    return row


def end_sessions_of(s, user: User) -> int:
    result = s.execute(sa.update(BrowserSession).where(BrowserSession.user_id == user.id,
                                                       BrowserSession.ended_at.is_(None))
                       .values(ended_at=utcnow()))
    return result.rowcount or 0


# -- API tokens ------------------------------------------------------------------------------------

def issue(s, user: User, name: str, lifetime: timedelta) -> tuple[str, ApiToken]:
    token = "acc_" + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(user_id=user.id, name=name, token_hash=digest(token), created_at=now, expires_at=now + lifetime,
                   revoked=False)
    s.add(row)
    s.flush()
    return token, row


#: built once (this runs on every API request): the token's row, its user and the user's roles
_TOKEN_ACTOR = (sa.select(ApiToken.id, ApiToken.expires_at, ApiToken.last_used_at, User.username, User.display_name,
                          User.organisation_id, User.active, UserRole.role)
                .join(User, User.id == ApiToken.user_id)
                .outerjoin(UserRole, UserRole.user_id == User.id)
                .where(ApiToken.token_hash == sa.bindparam("token_hash"), ApiToken.revoked.is_(False)))


def token_actor(db, token: str) -> Actor | None:
    """The actor of a valid token held by an active user, else None. One read (token, user and roles joined,
    no ORM objects: this runs on every API request); refreshes ``last_used_at`` at most every 15 min."""
    now = utcnow()
    with db.engine.connect() as conn:
        rows = conn.execute(_TOKEN_ACTOR, {"token_hash": digest(token)}).all()
    if not rows:
        return None
    row = rows[0]
    if (row.expires_at is not None and now >= row.expires_at) or not row.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOKEN_LAST_USED_EVERY:
        with db.write() as s:
            s.execute(sa.update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return Actor(row.username, frozenset(r.role for r in rows if r.role is not None), row.organisation_id,
                 row.display_name)


def revoke_rows(s, rows, by: str) -> int:
    now = utcnow()
    for r in rows:
        r.revoked, r.revoked_at, r.revoked_by = True, now, by
    return len(rows)


def token_view(row: ApiToken, username: str, now: datetime | None = None) -> dict:
    now = now or utcnow()
    if row.revoked:
        status = "revoked"
    elif row.expires_at is not None and now >= row.expires_at:
        status = "expired"
    else:
        status = "active"
    return {"id": row.id, "username": username, "name": row.name, "created_at": _iso(row.created_at),
            "expires_at": _iso(row.expires_at), "last_used_at": _iso(row.last_used_at), "status": status,
            "revoked_at": _iso(row.revoked_at), "revoked_by": row.revoked_by}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def record(s, by: str, action: str, data: dict) -> None:
    history.record_system(s, by, action, data)


# -- a demo installation's session key ------------------------------------------------------------------------

DEMO_SESSION_KEY = "demo_session_key"


def demo_session_key(db) -> str:
    """The key that signs a demo installation's session cookies: made once, kept in the demo database, so that
    every worker and every restart signs with the same key (a key per process made a session valid on one
    gunicorn worker and a 401 on the next). The first writer wins: a worker starting at the same moment reads
    the key the other wrote. Never recorded in the history (it is a secret); only demo databases hold one —
    anywhere else ACCREDIT_SECRET_KEY is required."""
    for _attempt in range(2):
        try:
            with db.write() as s:
                row = s.get(Setting, DEMO_SESSION_KEY)
                if row is None:
                    row = Setting(key=DEMO_SESSION_KEY, value=secrets.token_hex(32))
                    s.add(row)
                return row.value
        except sa.exc.IntegrityError:  # another worker inserted it first (PostgreSQL): read theirs
            continue
    raise RuntimeError("the demo session key could not be stored")
