"""Cross-site requests: a state-changing request authenticated by the session cookie must come from this site
(Sec-Fetch-Site: same-origin, or an Origin equal to this site's) or carry the session's X-CSRF-Token —
multipart and bodyless requests included. Bearer-token requests are exempt (a browser never adds them)."""
from __future__ import annotations

import io

import pytest

from ..engine.bpmn_builder import two_step
from .conftest import PASSWORD, assert_problem
from .test_sessions_tokens import _cookie_payload

EVIL = "http://localhost:8081"  # another port of the same host is another site


def _browser(api, who="quality_manager"):
    client = api.app.test_client()
    r = client.post("/api/session", json={"username": api.username(who), "password": PASSWORD})
    assert r.status_code == 200
    return client


def _bundle_upload():
    bundle = two_step()
    files = [(io.BytesIO(text.encode()), name) for name, text in bundle.items()]
    return {"files": files, "note": "planted"}


def _versions(api):
    return len([d for d in api.client("quality_manager").get("/api/process-definitions").get_json()])


@pytest.mark.parametrize("headers", [{"Origin": EVIL}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "same-site", "Origin": EVIL},
                                     {"Sec-Fetch-Site": "cross-site"}, {}])
def test_cross_site_multipart_deploy_is_refused(api, headers):
    client = _browser(api)
    before = api.client("quality_manager").get("/api/process-definitions").get_json()
    r = client.post("/api/process-definitions", data=_bundle_upload(), content_type="multipart/form-data",
                    headers=headers)
    body = assert_problem(r, 403)
    assert body["type"].endswith("/cross-site-request")
    assert api.client("quality_manager").get("/api/process-definitions").get_json() == before


def test_cross_site_bodyless_post_is_refused(api):
    case = api.start()
    task = api.task(case, "ask")
    client = _browser(api, "applicant_a")
    r = client.post(f"/api/tasks/{task['id']}/claim", headers={"Origin": EVIL, "Sec-Fetch-Site": "same-site"})
    assert_problem(r, 403)
    assert_problem(client.delete("/api/session", headers={"Origin": EVIL}), 403)  # forced sign-out too
    assert api.task(case, "ask")["assignee"] is None
    r = client.post(f"/api/tasks/{task['id']}/claim", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200, r.get_json()


def test_same_origin_requests_are_accepted(api):
    client = _browser(api)
    r = client.post("/api/process-definitions", data=_bundle_upload(), content_type="multipart/form-data",
                    headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code in (200, 201), r.get_json()  # 200: nothing changed, accepted all the same
    r = client.post("/api/tokens", json={"name": "x"}, headers={"Origin": "http://localhost"})
    assert r.status_code == 201


def test_a_client_without_browser_headers_needs_the_session_csrf_token(api):
    client = _browser(api)
    assert_problem(client.post("/api/tokens", json={}), 403)
    assert_problem(client.post("/api/tokens", json={}, headers={"X-CSRF-Token": "guess"}), 403)
    token = _cookie_payload(client)["csrf"]
    assert client.post("/api/tokens", json={}, headers={"X-CSRF-Token": token}).status_code == 201


def test_bearer_requests_are_exempt(api):
    r = api.client("quality_manager").post("/api/process-definitions", data=_bundle_upload(),
                                           content_type="multipart/form-data", headers={"Origin": EVIL})
    assert r.status_code in (200, 201), r.get_json()  # 200: nothing changed, accepted all the same


def test_sign_in_from_another_site_is_refused(api):
    r = api.app.test_client().post("/api/session", json={"username": "carol", "password": PASSWORD},
                                   headers={"Origin": EVIL})
    assert_problem(r, 403)


def test_sign_in_hands_the_csrf_token_to_non_browser_clients(api):
    client = api.app.test_client()
    r = client.post("/api/session", json={"username": "carol", "password": PASSWORD})
    token = r.headers["X-CSRF-Token"]
    assert client.post("/api/tokens", json={}, headers={"X-CSRF-Token": token}).status_code == 201
