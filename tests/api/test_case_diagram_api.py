"""GET /api/cases/{id}/diagram over real HTTP: the case's diagram and, by calledElement, the diagram of a
process it calls — with the case's visibility and problems naming the field."""
from __future__ import annotations

import pytest

from tests.apps import make_app

from ..scenarios.forms_data import form
from ..scenarios.harness import PEOPLE, create_people

PASSWORD = "correct-horse-battery"


@pytest.fixture
def env(tmp_path):
    app = make_app({"DATABASE_URL": f"sqlite:///{tmp_path}/diagram.sqlite", "DEPLOY_SHIPPED": True,
                    "ATTACHMENTS_DIR": str(tmp_path / "files"), "SECRET_KEY": "test"})
    svc = app.extensions["accredit"]
    create_people(svc.identity, PASSWORD, {"lab-a": "Lab A", "lab-b": "Lab B"})
    carol = PEOPLE["carol"]
    audit = svc.engine.start_case("surveillance_audit", carol, "lab-a", {"audit_type": "for_cause", "reason": "x"})
    svc.engine.complete_task(audit.tasks[0].id, carol, form("plan_surveillance_audit"))
    return app, audit.id


def client(app, username):
    c = app.test_client()
    assert c.post("/api/session", json={"username": username, "password": PASSWORD}).status_code == 200
    return c


def test_the_case_diagram_and_its_called_inspection(env):
    app, audit_id = env
    carol = client(app, "carol")
    top = carol.get(f"/api/cases/{audit_id}/diagram")
    assert top.status_code == 200, top.json
    assert top.json["process"] == "surveillance_audit" and top.json["xml"].lstrip().startswith("<?xml")
    assert top.json["calls"] == [{"element_id": "inspection", "element_name": "Inspection",
                                  "called_element": "inspection", "state": "active"}]
    inner = carol.get(f"/api/cases/{audit_id}/diagram?process=inspection").json
    states = {e["element_id"]: e["state"] for e in inner["elements"]}
    assert states["inspection_checklist"] == "active" and inner["file"] == "inspection.bpmn"
    # the laboratory reads its own case's diagrams; another laboratory's answer is the case's 404
    assert client(app, "alice").get(f"/api/cases/{audit_id}/diagram?process=inspection").status_code == 200
    r = client(app, "bob").get(f"/api/cases/{audit_id}/diagram?process=inspection")
    assert r.status_code == 404 and "inspection" not in r.json["detail"]
    # a process the case does not call: 404 naming it and the field
    r = carol.get(f"/api/cases/{audit_id}/diagram?process=membership")
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")
    assert "membership" in r.json["detail"] and r.json["errors"][0]["field"] == "/process"
    assert carol.get(f"/api/cases/{audit_id}/diagram?process=").status_code == 422
