"""The studio pages are shells: served to anyone (the API decides what they may read or do), with the strict
CSP of the staff pages — scripts only from this origin, none inline."""
from __future__ import annotations

import re

import pytest

from tests.apps import make_app

from .conftest import app_config


@pytest.fixture
def client(tmp_path):
    return make_app(app_config(tmp_path)).test_client()


@pytest.mark.parametrize("path", ["/studio", "/studio/accreditation/versions/2", "/studio/accreditation/diff",
                                  "/studio/accreditation/versions/1/migrate"])
def test_studio_pages_have_a_strict_csp_and_no_inline_script(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    html = r.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert re.search(r'<script src="/assets/studio/', html)
    assert 'id="nav-studio"' in html and 'data-roles="quality_manager"' in html
