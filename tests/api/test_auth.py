"""Authentication: problem documents for 401, password login with throttling, sessions that end after
inactivity, sign-out, and personal API tokens used as bearer credentials."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import time_machine

from .conftest import PASSWORD, assert_problem, same_origin


def test_no_credentials_is_401_problem(api):
    r = api.client().get("/api/me")
    body = assert_problem(r, 401)
    assert body["title"] == "Unauthorized"
    assert "sign in" in body["detail"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer acc_not-a-real-token", "Bearer ", "Basic YWxpY2U6cHc=", "acc_token"])
def test_bad_or_malformed_token_is_401(api, header):
    r = api.app.test_client().get("/api/me", headers={"Authorization": header})
    assert_problem(r, 401)


def test_valid_bearer_token_identifies_the_user(api):
    r = api.client("applicant_a").get("/api/me")
    assert r.status_code == 200
    assert r.get_json() == {"username": "alice", "display_name": "Alice", "roles": ["applicant"],
                            "organisation_id": "lab-a"}


def test_revoked_token_is_401(api):
    client = api.client("coordinator")
    assert client.get("/api/me").status_code == 200
    api.services.identity.revoke_tokens("carol")
    assert_problem(client.get("/api/me"), 401)


def test_login_me_logout(api):
    client = same_origin(api.app.test_client())
    r = client.post("/api/session", json={"username": "carol", "password": PASSWORD})
    assert r.status_code == 200
    assert r.get_json()["username"] == "carol" and r.get_json()["roles"] == ["coordinator"]
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "password" not in r.get_json()
    me = client.get("/api/me")
    assert me.status_code == 200 and me.get_json()["username"] == "carol"
    assert client.delete("/api/session").status_code == 204
    assert_problem(client.get("/api/me"), 401)
    assert [e.actor for e in api.system_events("login")] == ["carol"]


def test_a_copied_session_cookie_dies_at_sign_out(api):
    """Signing out revokes the session on the server, not only in the browser that signed out."""
    client = same_origin(api.app.test_client())
    assert client.post("/api/session", json={"username": "carol", "password": PASSWORD}).status_code == 200
    stolen = client.get_cookie("session").value
    thief = api.app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/api/me").status_code == 200  # a copy works while the session lives
    assert client.delete("/api/session").status_code == 204
    assert_problem(thief.get("/api/me"), 401)


def test_wrong_password_is_401_then_throttled_with_retry_after(api):
    client = api.app.test_client()
    for _ in range(5):
        body = assert_problem(client.post("/api/session", json={"username": "alice", "password": "wrong-password"}),
                              401)
        assert body["type"].endswith("/authentication-failed")
    r = client.post("/api/session", json={"username": "alice", "password": "wrong-password"})
    assert_problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0
    # throttled even with the right password, and no session was created
    r = client.post("/api/session", json={"username": "alice", "password": PASSWORD})
    assert_problem(r, 429)
    assert_problem(client.get("/api/me"), 401)
    assert len(api.system_events("login.failed")) == 5
    assert len(api.system_events("login.throttled")) == 2
    # another user is not affected
    assert client.post("/api/session", json={"username": "bob", "password": PASSWORD}).status_code == 200


def test_unknown_user_is_401_like_a_wrong_password(api):
    body = assert_problem(api.app.test_client().post("/api/session", json={"username": "nobody",
                                                                           "password": PASSWORD}), 401)
    assert body["detail"] == "wrong username or password"


def test_deactivated_user_session_ends(api):
    client = api.client("committee", via="session")
    assert client.get("/api/me").status_code == 200
    api.services.identity.deactivate("cody")
    assert_problem(client.get("/api/me"), 401)


def test_session_ends_after_inactivity(make_api):
    api = make_api(SESSION_IDLE_MINUTES=1)
    with time_machine.travel(datetime(2027, 2, 1, 9, 0, tzinfo=timezone.utc), tick=False) as clock:
        client = api.client("coordinator", via="session")
        assert client.get("/api/me").status_code == 200
        clock.shift(timedelta(seconds=50))
        assert client.get("/api/me").status_code == 200  # activity keeps the session alive …
        clock.shift(timedelta(seconds=50))
        assert client.get("/api/me").status_code == 200  # … 100 s after sign-in, 50 s after the last request
        clock.shift(timedelta(minutes=2))
        body = assert_problem(client.get("/api/me"), 401)
        assert "inactivity" in body["detail"]
        assert_problem(client.get("/api/me"), 401)  # the session was cleared, not just refused once


def test_tokens_issued_over_http_work_as_bearer(api):
    session_client = api.client("inspector", via="session")
    r = session_client.post("/api/tokens", json={"name": "ci"})
    assert r.status_code == 201
    token = r.get_json()["token"]
    assert token.startswith("acc_") and r.get_json()["name"] == "ci"
    bearer = api.app.test_client()
    me = bearer.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["username"] == "ivan"
    # the token needs no cookie, and a token can issue another token
    r2 = bearer.post("/api/tokens", json={}, headers={"Authorization": f"Bearer {token}"})
    assert r2.status_code == 201 and r2.get_json()["token"] != token
    assert_problem(api.app.test_client().post("/api/tokens", json={}), 401)


@pytest.mark.parametrize("method,url", [
    ("get", "/api/cases"), ("post", "/api/cases"), ("get", "/api/tasks"), ("get", "/api/process-definitions"),
    ("post", "/api/messages/child_done"), ("get", "/api/cases/00000000-0000-0000-0000-000000000000"),
    ("post", "/api/tasks/00000000-0000-0000-0000-000000000000/claim"), ("post", "/api/tokens"),
])
def test_every_endpoint_needs_credentials(api, method, url):
    kwargs = {"json": {}} if method == "post" else {}
    assert_problem(getattr(api.client(), method)(url, **kwargs), 401)
