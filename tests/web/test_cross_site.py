"""In a real browser: a page on another port of the same host (same-site, so the Lax cookie is sent) cannot
make a signed-in user change anything, by a multipart form or a bodyless fetch; and the sign-in page's
``next=`` only ever leads to a path of this site."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

NO_SESSION = "status of 401"
UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def evil_site(site):
    """A page on another port of 127.0.0.1 that posts a multipart form and a bodyless fetch to the site."""
    target = site.base_url
    html = f"""<!doctype html><html><body>
<form id="f" method="post" enctype="multipart/form-data" action="{target}/api/tokens">
<input name="name" value="stolen"></form>
<p id="fetch">pending</p>
<script>
fetch("{target}/api/tasks/{UNKNOWN}/claim", {{method: "POST", credentials: "include", mode: "no-cors"}})
  .then(() => {{ document.getElementById("fetch").textContent = "sent"; document.getElementById("f").submit(); }});
</script></body></html>""".encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


def test_a_page_on_another_port_cannot_act_as_the_signed_in_user(web, site, evil_site):
    web.sign_in("coordinator")
    expect(web.page.locator("#inbox")).to_be_visible()
    before = len(site.services.identity.tokens("carol"))
    web.page.goto(evil_site)
    expect(web.page.locator("body")).to_contain_text("cross-site request refused", timeout=10_000)
    assert len(site.services.identity.tokens("carol")) == before  # no token issued
    refused = _cross_site_refusals(site)
    assert f"/api/tasks/{UNKNOWN}/claim" in refused and "/api/tokens" in refused  # bodyless and multipart


def _cross_site_refusals(site) -> set[str]:
    import sqlalchemy as sa

    from engine.storage.models import Event

    with site.services.db.read() as s:
        rows = s.scalars(sa.select(Event.data).where(Event.case_id.is_(None), Event.action == "permission.denied"))
        return {d["path"] for d in rows if "cross-site" in d["reason"]}


@pytest.mark.parametrize("next_value", ["/%5Cevil.example/x", "/%09/evil.example", "//evil.example",
                                        "https://evil.example/", "/%5C%5Cevil.example"])
def test_sign_in_next_never_leaves_the_site(web, site, next_value):
    web.sign_in("coordinator", path=f"/?next={next_value}")
    web.page.wait_for_load_state()
    expect(web.page.locator("#inbox")).to_be_visible()
    assert web.page.url.startswith(site.base_url), web.page.url
    web.assert_no_errors(allow=(NO_SESSION,))


def test_sign_in_next_leads_to_a_page_of_this_site(web, site):
    web.sign_in("coordinator", path="/?next=/cases")
    web.page.wait_for_url(f"{site.base_url}/cases")
