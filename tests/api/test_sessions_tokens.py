"""Browser sessions are opaque server-side records (not API tokens) with idle and absolute expiry enforced on
the server; API tokens expire and are listed and revoked by their owner and an administrator; a deactivated
user's sessions and tokens stop at once; looking a credential up writes nothing."""
from __future__ import annotations

import base64
import json
import zlib
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import time_machine

from .conftest import PASSWORD, assert_problem, same_origin

T0 = datetime(2027, 2, 1, 9, 0, tzinfo=timezone.utc)


def _sign_in(api, username="carol"):
    client = same_origin(api.app.test_client())
    assert client.post("/api/session", json={"username": username, "password": PASSWORD}).status_code == 200
    return client


def _cookie_payload(client) -> dict:
    """What the signed (not encrypted) Flask cookie carries: anyone holding the cookie can read it."""
    value = client.get_cookie("session").value
    compressed = value.startswith(".")
    body = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return json.loads(zlib.decompress(raw) if compressed else raw)


def test_the_cookie_carries_no_api_token_and_its_secret_is_no_bearer_token(api):
    client = _sign_in(api)
    payload = _cookie_payload(client)
    assert set(payload) == {"sid", "csrf"}
    assert not any(str(v).startswith("acc_") for v in payload.values())
    as_bearer = api.app.test_client().get("/api/me", headers={"Authorization": f"Bearer {payload['sid']}"})
    assert_problem(as_bearer, 401)


def test_a_session_refused_after_idle_time_is_refused_in_every_form(make_api):
    api = make_api(SESSION_IDLE_MINUTES=15)
    with time_machine.travel(T0, tick=False) as clock:
        client = _sign_in(api)
        cookie = client.get_cookie("session").value
        sid = _cookie_payload(client)["sid"]
        clock.shift(timedelta(minutes=16))
        body = assert_problem(client.get("/api/me"), 401)
        assert "inactivity" in body["detail"]
        copy = api.app.test_client()  # a copy of the cookie taken before the idle logout
        copy.set_cookie("session", cookie)
        assert_problem(copy.get("/api/me"), 401)
        assert_problem(copy.post("/api/tokens", json={}, headers={"Sec-Fetch-Site": "same-origin"}), 401)
        assert_problem(api.app.test_client().get("/api/me", headers={"Authorization": f"Bearer {sid}"}), 401)
        # activity after the refusal does not revive it
        clock.shift(timedelta(seconds=1))
        assert_problem(copy.get("/api/me"), 401)


def test_activity_keeps_a_session_alive_until_its_absolute_limit(make_api):
    api = make_api(SESSION_IDLE_MINUTES=15, SESSION_MAX_HOURS=2)
    with time_machine.travel(T0, tick=False) as clock:
        client = _sign_in(api)
        for _ in range(11):
            clock.shift(timedelta(minutes=10))
            assert client.get("/api/me").status_code == 200
        clock.shift(timedelta(minutes=10))  # 120 minutes after sign-in
        body = assert_problem(client.get("/api/me"), 401)
        assert "maximum" in body["detail"]


def _writes(api):
    """Count INSERT/UPDATE/DELETE statements sent to the database."""
    statements: list[str] = []

    def listen(conn, cursor, statement, *args):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            statements.append(statement)

    sa.event.listen(api.services.db.engine, "before_cursor_execute", listen)
    return statements


def test_authenticated_gets_write_nothing(api):
    with time_machine.travel(T0, tick=False) as clock:
        browser = _sign_in(api)
        bearer = api.client("inspector")
        assert bearer.get("/api/me").status_code == 200  # the first use may record last_used_at
        writes = _writes(api)
        for _ in range(10):
            clock.shift(timedelta(seconds=5))
            assert browser.get("/api/me").status_code == 200
            assert bearer.get("/api/tasks").status_code == 200
        assert writes == []


def test_tokens_expire_after_their_lifetime(make_api):
    api = make_api(TOKEN_DAYS=30)
    with time_machine.travel(T0, tick=False) as clock:
        token = api.client("inspector").post("/api/tokens", json={"name": "ci"}).get_json()["token"]
        bearer = api.app.test_client()
        bearer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        assert bearer.get("/api/me").status_code == 200
        listed = [t for t in bearer.get("/api/tokens").get_json() if t["name"] == "ci"][0]
        assert listed["expires_at"].startswith("2027-03-03")
        clock.shift(timedelta(days=30, seconds=1))
        body = assert_problem(bearer.get("/api/me"), 401)
        assert "expired" in body["detail"]


def test_owner_lists_and_revokes_own_tokens(api):
    owner = api.client("inspector")
    token = owner.post("/api/tokens", json={"name": "laptop"}).get_json()["token"]
    listed = owner.get("/api/tokens").get_json()
    assert {t["name"] for t in listed} == {"tests", "laptop"}
    assert all("token" not in t and "token_hash" not in t for t in listed)
    laptop = next(t for t in listed if t["name"] == "laptop")
    assert laptop["status"] == "active" and laptop["username"] == "ivan"
    # someone else cannot revoke it through their own list
    assert_problem(api.client("inspector2").delete(f"/api/tokens/{laptop['id']}"), 404)
    r = owner.delete(f"/api/tokens/{laptop['id']}")
    assert r.status_code == 200 and r.get_json()["status"] == "revoked" and r.get_json()["revoked_by"] == "ivan"
    assert_problem(api.app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"}), 401)
    assert owner.get("/api/me").status_code == 200  # the other token still works
    assert [e.data["name"] for e in api.system_events("token.revoked")] == ["laptop"]


def test_admin_lists_and_revokes_anyones_tokens_and_others_cannot(api):
    token = api.client("inspector").post("/api/tokens", json={"name": "ci"}).get_json()["token"]
    admin = api.client("admin")
    listed = admin.get("/api/admin/users/ivan/tokens").get_json()
    ci = next(t for t in listed if t["name"] == "ci")
    assert_problem(api.client("coordinator").get("/api/admin/users/ivan/tokens"), 403)
    assert_problem(api.client("coordinator").delete(f"/api/admin/users/ivan/tokens/{ci['id']}"), 403)
    r = admin.delete(f"/api/admin/users/ivan/tokens/{ci['id']}")
    assert r.status_code == 200 and r.get_json()["revoked_by"] == "adam"
    assert_problem(api.app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_deactivated_user_cannot_sign_in_and_sessions_and_tokens_stop_at_once(api):
    browser = _sign_in(api, "cody")
    bearer = api.client("committee")
    assert browser.get("/api/me").status_code == 200 and bearer.get("/api/me").status_code == 200
    r = api.client("admin").patch("/api/admin/users/cody", json={"active": False})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert_problem(browser.get("/api/me"), 401)
    assert_problem(bearer.get("/api/me"), 401)
    assert_problem(api.app.test_client().post("/api/session", json={"username": "cody", "password": PASSWORD}), 401)
    # reactivation lets them sign in again, but revives neither the old session nor the old token
    assert api.client("admin").patch("/api/admin/users/cody", json={"active": True}).status_code == 200
    assert_problem(browser.get("/api/me"), 401)
    assert_problem(bearer.get("/api/me"), 401)
    assert _sign_in(api, "cody").get("/api/me").status_code == 200
    assert [e.data["username"] for e in api.system_events("user.deactivated")] == ["cody"]
    assert [e.actor for e in api.system_events("user.reactivated")] == ["adam"]


def test_secure_cookie_setting(make_api):
    api = make_api(SECURE_COOKIES=True)
    r = api.app.test_client().post("/api/session", json={"username": "carol", "password": PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    plain = api.app.test_client().post("/api/session", json={"username": "carol", "password": PASSWORD})
    assert plain.status_code == 200
    api2 = make_api("plain")
    assert "Secure" not in api2.app.test_client().post(
        "/api/session", json={"username": "carol", "password": PASSWORD}).headers["Set-Cookie"]


def test_admin_api_bad_input_is_a_4xx_problem(api):
    admin = api.client("admin")
    assert_problem(admin.delete(f"/api/admin/users/ivan/tokens/{10**30}"), 404)
    assert_problem(admin.delete(f"/api/tokens/{2**63}"), 404)
    assert_problem(admin.patch("/api/admin/users/nobody", json={"active": False}), 404)
    assert_problem(admin.patch("/api/admin/users/carol", json={"roles": ["wizard"]}), 422)
    assert_problem(admin.patch("/api/admin/users/alice", json={"organisation_id": ""}), 422)  # applicant needs one
    assert_problem(admin.patch("/api/admin/users/carol", json={"organisation_id": "lab-zzz"}), 404)
    assert admin.patch("/api/admin/users/carol", json={"organisation_id": ""}).get_json()["organisation_id"] is None
    r = admin.post("/api/admin/users", json={"username": "newbie", "password": PASSWORD, "roles": ["auditor"],
                                             "organisation_id": ""})
    assert r.status_code == 201 and r.get_json()["organisation_id"] is None
    assert_problem(admin.post("/api/admin/users", json={"username": "newbie", "password": PASSWORD,
                                                        "roles": ["auditor"]}), 409)
    assert_problem(admin.post("/api/admin/users", json={"username": "BAD NAME", "password": "x",
                                                        "roles": ["auditor"]}), 422)
    assert_problem(admin.patch("/api/admin/users/adam", json={"active": False}), 409)  # not themselves
    assert_problem(admin.post("/api/admin/organisations", json={"id": "lab-a", "name": "again"}), 409)
    assert_problem(admin.post("/api/admin/organisations", json={"id": "Bad Id", "name": "x"}), 422)
    assert_problem(api.client("auditor").get("/api/admin/users"), 403)
    assert_problem(api.client("auditor").post("/api/admin/organisations", json={"id": "lab-q", "name": "Q"}), 403)
    ok = admin.post("/api/admin/organisations", json={"id": "lab-q", "name": "Lab Q"})
    assert ok.status_code == 201
    assert {"id": "lab-q", "name": "Lab Q"} in admin.get("/api/admin/organisations").get_json()
    assert [e.actor for e in api.system_events("organisation.created")][-1] == "adam"
