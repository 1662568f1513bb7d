"""`create_app` builds an application and nothing else: no migration, no deployment, no accounts — those are
commands run once (`accredit serve` / `db upgrade` / `processes deploy` / `demo`), so N workers starting
together do not race and a worker's start is cheap."""
from __future__ import annotations

import sqlalchemy as sa

from api.app import create_app


def test_create_app_has_no_side_effects_on_the_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'untouched.sqlite'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "test", "ATTACHMENTS_DIR": str(tmp_path / "files"),
                      "DEPLOY_SHIPPED": True, "DEMO": True})
    db = app.extensions["accredit"].db
    assert sa.inspect(db.engine).get_table_names() == []  # not migrated, nothing deployed, no demo users
    db.dispose()


def test_one_completion_is_one_engine_call_with_its_answer(api):
    """Completing a task answers with the case as the caller now sees it, built inside the completion (the
    route makes no second engine call): the next task is there, other roles' tasks are not."""
    case = api.start("applicant_a")
    client = api.client("applicant_a")
    task = case["tasks"][0]
    r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"answer": "yes"}})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["id"] == case["id"] and all(t["role"] == "applicant" for t in body["tasks"])
    staff = api.client("coordinator").get(f"/api/cases/{case['id']}").get_json()
    assert [t["element_id"] for t in staff["tasks"]] and body["tasks"] == []
