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
