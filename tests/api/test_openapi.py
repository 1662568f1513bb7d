"""The OpenAPI document and the Swagger UI, served locally."""
from __future__ import annotations

import json
import re


def test_openapi_document(api):
    r = api.app.test_client().get("/api/openapi.json")
    assert r.status_code == 200
    spec = json.loads(r.data)
    assert spec["openapi"].startswith("3.") and spec["info"]["title"] == "accredit"
    paths = spec["paths"]
    for path in ("/api/cases", "/api/tasks", "/api/tasks/{task_id}/complete", "/api/cases/{case_id}",
                 "/api/messages/{name}", "/api/session", "/api/process-definitions"):
        assert path in paths, path
    assert "post" in paths["/api/tasks/{task_id}/complete"] and "get" in paths["/api/tasks"]
    params = {p["name"] for p in paths["/api/tasks"]["get"]["parameters"]}
    assert {"scope", "sort", "page", "per_page", "overdue"} <= params
    assert {"bearer", "session"} <= set(spec["components"]["securitySchemes"])


def test_swagger_ui_and_its_assets(api):
    client = api.app.test_client()
    r = client.get("/api/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    assert "/api/openapi.json" in html
    assets = re.findall(r'(?:src|href)="(/api/docs/assets/[^"]+)"', html)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    assert "cdn" not in html.lower()
    for asset in assets:
        a = client.get(asset)
        assert a.status_code == 200 and len(a.data) > 1000, asset
        a.close()
    assert client.get("/api/docs/assets/no-such-file.js").status_code == 404


def test_health(api):
    r = api.app.test_client().get("/api/health")
    assert r.status_code == 200 and r.get_json() == {"status": "ok"}
