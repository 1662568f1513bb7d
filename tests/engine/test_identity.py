"""Identity on a real database with real argon2: users, roles, organisations, login throttling, API tokens."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.actors import Actor
from engine.vocabulary import ROLES
from engine.errors import Conflict, InvalidFormData, NotFound
from engine.users.identity import (
    DEMO_PASSWORD,
    DEMO_USERS,
    MAX_FAILED_LOGINS,
    AuthenticationFailed,
    Identity,
    TooManyAttempts,
    create_demo,
)
from engine.storage.models import ApiToken, Event, User

PASSWORD = "correct-horse-battery"
T0 = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def identity(db):
    ident = Identity(db)
    ident.create_organisation("lab-a", "Lab A")
    ident.create_user("alice", PASSWORD, ["applicant"], organisation_id="lab-a", display_name="Alice A",
                      email="alice@lab-a.test")
    return ident


def system_events(db, action=None):
    with db.read() as s:
        stmt = sa.select(Event).where(Event.case_id.is_(None))
        if action:
            stmt = stmt.where(Event.action == action)
        return [(e.actor, e.action, e.data) for e in s.scalars(stmt.order_by(Event.seq))]


def test_create_org_and_user_then_authenticate(identity, db):
    assert identity.organisations() == [{"id": "lab-a", "name": "Lab A"}]
    user = identity.get_user("alice")
    assert (user.username, user.display_name, user.email, user.organisation_id, user.roles, user.active) == (
        "alice", "Alice A", "alice@lab-a.test", "lab-a", ["applicant"], True)
    actor = identity.authenticate("alice", PASSWORD, source="127.0.0.1")
    assert actor == Actor("alice", frozenset({"applicant"}), "lab-a", "Alice A")
    assert system_events(db, "login") == [("alice", "login", {"source": "127.0.0.1"})]
    with db.read() as s:
        stored = s.scalar(sa.select(User.password_hash).where(User.username == "alice"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_wrong_password_fails_and_is_recorded(identity, db):
    with pytest.raises(AuthenticationFailed):
        identity.authenticate("alice", "not-the-password", source="10.0.0.9")
    assert system_events(db, "login.failed") == [("alice", "login.failed", {"source": "10.0.0.9"})]
    assert system_events(db, "login") == []


def test_unknown_user_fails_the_same_way(identity, db):
    with pytest.raises(AuthenticationFailed) as info:
        identity.authenticate("mallory", PASSWORD)
    assert info.value.message == "wrong username or password"
    assert system_events(db, "login.failed") == [("mallory", "login.failed", {"source": None})]


def test_five_failures_throttle_even_the_right_password_until_the_window_passes(identity, db):
    with time_machine.travel(T0, tick=False) as traveller:
        for _ in range(MAX_FAILED_LOGINS):
            with pytest.raises(AuthenticationFailed):
                identity.authenticate("alice", "wrong-wrong-wrong")
        with pytest.raises(TooManyAttempts) as info:
            identity.authenticate("alice", PASSWORD)
        assert info.value.details["retry_after"] == 15 * 60
        assert len(system_events(db, "login.failed")) == MAX_FAILED_LOGINS
        assert [a for _, a, _ in system_events(db, "login.throttled")] == ["login.throttled"]
        assert system_events(db, "login") == []
        # another user is not affected by alice's failures
        identity.create_user("carol", PASSWORD, ["coordinator"])
        assert identity.authenticate("carol", PASSWORD).username == "carol"

        traveller.shift(timedelta(minutes=14))
        with pytest.raises(TooManyAttempts):
            identity.authenticate("alice", PASSWORD)
        traveller.shift(timedelta(minutes=2))  # 16 minutes after the failures
        actor = identity.authenticate("alice", PASSWORD)
    assert actor.username == "alice" and actor.roles == {"applicant"}


def test_a_stranger_guessing_does_not_lock_the_user_out_elsewhere_but_many_sources_do(identity, db):
    from engine.users.identity import MAX_FAILED_LOGINS_ALL_SOURCES

    with time_machine.travel(T0, tick=False):
        for _ in range(MAX_FAILED_LOGINS):
            with pytest.raises(AuthenticationFailed):
                identity.authenticate("alice", "guess", source="203.0.113.7")
        with pytest.raises(TooManyAttempts):
            identity.authenticate("alice", PASSWORD, source="203.0.113.7")
        assert identity.authenticate("alice", PASSWORD, source="10.0.0.9").username == "alice"
        for i in range(MAX_FAILED_LOGINS_ALL_SOURCES - MAX_FAILED_LOGINS):
            with pytest.raises((AuthenticationFailed, TooManyAttempts)):
                identity.authenticate("alice", "guess", source=f"198.51.100.{i % 200}")
        with pytest.raises(TooManyAttempts):
            identity.authenticate("alice", PASSWORD, source="10.0.0.9")


def test_inactive_user_cannot_log_in(identity, db):
    identity.deactivate("alice", by="admin")
    with pytest.raises(AuthenticationFailed):
        identity.authenticate("alice", PASSWORD)
    assert identity.get_user("alice").active is False
    assert identity.actor("alice") is None
    assert identity.verify_password("alice", PASSWORD) is False
    assert ("admin", "user.deactivated", {"username": "alice", "sessions_ended": 0, "tokens_revoked": 0}) \
        in system_events(db)


@pytest.mark.parametrize("kwargs, field", [
    (dict(username="Bad Name", password=PASSWORD, roles=["coordinator"]), "/username"),
    (dict(username="", password=PASSWORD, roles=["coordinator"]), "/username"),
    (dict(username="x" * 65, password=PASSWORD, roles=["coordinator"]), "/username"),
    (dict(username="dan", password="short", roles=["coordinator"]), "/password"),
    (dict(username="dan", password=PASSWORD, roles=["wizard"]), "/roles"),
    (dict(username="dan", password=PASSWORD, roles=[]), "/roles"),
    (dict(username="dan", password=PASSWORD, roles=["applicant"]), "/organisation_id"),
])
def test_create_user_validation(identity, kwargs, field):
    with pytest.raises(InvalidFormData) as info:
        identity.create_user(kwargs["username"], kwargs["password"], kwargs["roles"])
    assert [e["field"] for e in info.value.errors] == [field]
    assert "dan" not in {u.username for u in identity.users()}


def test_create_user_reports_every_bad_field_at_once(identity):
    with pytest.raises(InvalidFormData) as info:
        identity.create_user("NO", "short", ["applicant", "wizard"])
    assert {e["field"] for e in info.value.errors} == {"/username", "/password", "/roles", "/organisation_id"}


def test_duplicate_user_and_organisation_conflict(identity):
    with pytest.raises(Conflict):
        identity.create_user("alice", PASSWORD, ["coordinator"])
    with pytest.raises(Conflict):
        identity.create_organisation("lab-a", "Again")
    with pytest.raises(NotFound):
        identity.create_user("zed", PASSWORD, ["applicant"], organisation_id="lab-zzz")
    assert [u.username for u in identity.users()] == ["alice"]


def test_tokens_issue_resolve_revoke_and_only_hash_stored(identity, db):
    token = identity.issue_token("alice", name="ci")
    assert token.startswith("acc_") and len(token) > 40
    actor = identity.actor_for_token(token)
    assert actor == Actor("alice", frozenset({"applicant"}), "lab-a", "Alice A")
    assert identity.actor_for_token(token + "x") is None
    assert identity.actor_for_token("acc_" + "A" * 43) is None
    with db.read() as s:
        rows = s.scalars(sa.select(ApiToken)).all()
        dumped = [tuple(str(v) for v in r) for r in s.execute(sa.text("SELECT * FROM api_token")).all()]
    assert len(rows) == 1
    assert rows[0].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert rows[0].name == "ci" and rows[0].last_used_at is not None and rows[0].expires_at is not None
    assert not any(token in v for row in dumped for v in row)

    second = identity.issue_token("alice")
    assert second != token and identity.actor_for_token(second).username == "alice"
    assert identity.revoke_tokens("alice", by="admin") == 2
    assert identity.actor_for_token(token) is None and identity.actor_for_token(second) is None
    assert ("admin", "token.revoked", {"username": "alice", "count": 2}) in system_events(db)
    assert identity.revoke_tokens("alice") == 0


def test_token_of_deactivated_user_resolves_to_nobody(identity):
    token = identity.issue_token("alice")
    identity.deactivate("alice")
    assert identity.actor_for_token(token) is None


def test_set_roles_records_old_and_new(identity, db):
    view = identity.set_roles("alice", ["inspector", "applicant", "applicant"], by="admin")
    assert view.roles == ["applicant", "inspector"]
    assert identity.get_user("alice").roles == ["applicant", "inspector"]
    assert identity.actor("alice").roles == {"applicant", "inspector"}
    assert system_events(db, "user.roles_changed") == [
        ("admin", "user.roles_changed", {"username": "alice", "old": ["applicant"], "new": ["applicant", "inspector"]})]
    identity.set_roles("alice", ["applicant"])
    assert identity.get_user("alice").roles == ["applicant"]
    with pytest.raises(InvalidFormData) as info:
        identity.set_roles("alice", ["wizard"])
    assert info.value.errors[0]["field"] == "/roles"
    with pytest.raises(NotFound):
        identity.set_roles("nobody", ["coordinator"])
    assert identity.users_with_role("inspector") == []
    assert identity.users_with_role("applicant") == ["alice"]


def test_verify_password_does_not_record_a_login(identity, db):
    assert identity.verify_password("alice", PASSWORD) is True
    assert identity.verify_password("alice", PASSWORD + "!") is False
    assert identity.verify_password("nobody", PASSWORD) is False
    assert system_events(db, "login") == [] and system_events(db, "login.failed") == []


def test_create_demo_is_idempotent_with_one_user_per_role(db):
    ident = Identity(db)
    first = create_demo(ident)
    users = ident.users()
    second = create_demo(ident)
    assert first == second
    assert len(ident.users()) == len(users) == len(DEMO_USERS)
    assert {o["id"] for o in ident.organisations()} == {"lab-north", "lab-south"}
    assert {r for u in users for r in u.roles} == set(ROLES)
    for role in ROLES:
        assert ident.users_with_role(role), role
    assert len(system_events(db, "user.created")) == len(DEMO_USERS)
    actor = ident.authenticate("applicant", DEMO_PASSWORD)
    assert (actor.roles, actor.organisation_id) == ({"applicant"}, "lab-north")
