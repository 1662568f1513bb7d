"""Export file names work for any business key (RFC 6266 ``filename*``): a key in Cyrillic, Chinese or with
quotes downloads under its own name, every export answers 200 with a header HTTP can carry."""
from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

KEYS = ["Лаборатория-№1", "實驗室 2027/Ω", 'lab "quoted" ; name', "ASCII-KEY-1"]


@pytest.mark.parametrize("key", KEYS)
def test_every_export_downloads_under_the_business_key(api, key):
    case = api.start("applicant_a", "two_step", business_key=key)
    client = api.client("auditor")
    for url, suffix in ((f"/api/cases/{case['id']}/history/export?format=csv", "-history.csv"),
                        (f"/api/cases/{case['id']}/history/export?format=json", "-history.json"),
                        (f"/api/cases/{case['id']}/record.pdf", "-record.pdf")):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        header = r.headers["Content-Disposition"]
        header.encode("latin-1")  # what HTTP can carry
        assert header.startswith('attachment; filename="')
        fallback = header.split('filename="', 1)[1].split('"', 1)[0]
        assert fallback.isascii() and fallback.endswith(suffix) and '"' not in fallback
        if key.isascii():
            assert "filename*" not in header  # plain ASCII: the classic form only
            name = fallback
        else:
            name = unquote(header.split("filename*=UTF-8''", 1)[1])
        assert name.endswith(suffix)
        assert all(word in name for word in re.findall(r"[^\W_]+", key))  # every letter and digit kept


def test_a_process_file_named_in_any_script_downloads_under_its_name(api):
    """The studio's file and bundle downloads use the same RFC 6266 header: a quality manager's file named in
    Japanese (a BPMN file name is free text) used to put characters HTTP cannot carry into the header."""
    from tests.engine.bpmn_builder import two_step

    from .test_definitions_api import deploy

    files = {("検査-" + n if n.endswith(".bpmn") else n): t for n, t in two_step().items()}
    assert deploy(api, files).status_code == 201
    client = api.client("coordinator")
    detail = client.get("/api/process-definitions/two_step/versions/2").get_json()
    name = next(f["name"] for f in detail["files"] if f["name"].startswith("検査-"))
    for url, expected in ((f"/api/process-definitions/two_step/versions/2/files/{name}", name),
                          ("/api/process-definitions/two_step/versions/2/bundle.zip", "two_step-v2.zip")):
        r = client.get(url)
        assert r.status_code == 200, url
        header = r.headers["Content-Disposition"]
        header.encode("latin-1")  # what HTTP can carry
        if expected.isascii():
            assert header == f'attachment; filename="{expected}"'
        else:
            assert unquote(header.split("filename*=UTF-8''", 1)[1]) == expected
