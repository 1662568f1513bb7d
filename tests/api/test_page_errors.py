"""Page addresses that do not exist answer an HTML page (the site's layout, a link home, the real status);
API addresses keep answering RFC 9457 problem+json."""
from __future__ import annotations

import pytest

from .conftest import assert_problem


@pytest.mark.parametrize("path", ["/no-such-page", "/cases/x/y/z", "/audit-nothing/1"])
def test_unknown_page_is_an_html_404_with_the_layout_and_a_link_home(api, path):
    r = api.client().get(path, headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "<h1 id=\"error-title\">Page not found</h1>" in html
    assert 'href="/"' in html and "Go to the start page" in html
    assert 'class="top"' in html  # the site's header: the same layout as every page
    assert path in html
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]


def test_unknown_page_is_html_even_when_the_client_asks_for_json(api):
    # the address decides, not the Accept header: a page URL is never a JSON resource
    r = api.client().get("/nowhere", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.mimetype == "text/html"


def test_wrong_method_on_a_page_is_an_html_405_with_allow(api):
    r = api.client().post("/cases", data="x", headers={"Content-Type": "application/json"})
    assert r.status_code == 405 and r.mimetype == "text/html"
    assert "GET" in r.headers["Allow"]


@pytest.mark.parametrize("path", ["/api/no-such-thing", "/api/cases/does-not-exist"])
def test_unknown_api_address_stays_problem_json(api, path):
    body = assert_problem(api.client("coordinator").get(path), 404)
    assert body["instance"] == path


def test_a_missing_asset_is_not_an_html_page(api):
    r = api.client().get("/assets/web/nothing.js")
    assert r.status_code == 404 and r.mimetype == "application/problem+json"
