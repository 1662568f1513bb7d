"""Production refuses unsafe defaults: no start without a secret key outside demo mode, no demo accounts
unless asked for — and the README's `accredit demo && accredit serve` still works on a fresh machine. The
`accredit users` commands administer accounts."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.app import UnsafeConfiguration, create_app
from api.cli import main
from engine.storage.models import Event


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """A fresh machine: an empty database, no ACCREDIT_* settings."""
    for name in ("ACCREDIT_SECRET_KEY", "ACCREDIT_DEMO"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ACCREDIT_ATTACHMENTS_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("ACCREDIT_DEPLOY_SHIPPED", "0")
    from engine.storage.db import Database

    db = Database(url)  # as `accredit serve` / `db upgrade` leave it: create_app itself never migrates
    db.migrate()
    db.dispose()
    return url


def _users(app):
    return [u.username for u in app.extensions["accredit"].identity.users()]


def test_no_start_without_a_secret_key_outside_demo_mode(fresh):
    with pytest.raises(UnsafeConfiguration, match="ACCREDIT_SECRET_KEY"):
        create_app()
    result = CliRunner().invoke(main, ["serve", "--no-scheduler", "--port", "0"])
    assert result.exit_code == 1 and "ACCREDIT_SECRET_KEY" in result.output


def test_with_a_secret_key_it_starts_with_no_demo_accounts(fresh, monkeypatch):
    monkeypatch.setenv("ACCREDIT_SECRET_KEY", "k" * 64)
    app = create_app()
    assert app.config["SECRET_KEY"] == "k" * 64
    assert _users(app) == []  # nobody can sign in as applicant / demo-password
    client = app.test_client()
    r = client.post("/api/session", json={"username": "applicant", "password": "demo-password"})
    assert r.status_code == 401


def test_readme_first_command_accredit_demo_then_serve(fresh):
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    assert "demo-password" in result.output
    app = create_app()  # what `accredit serve` builds: no secret key needed in a demo installation
    assert app.config["SECRET_KEY"]
    assert "applicant" in _users(app)
    r = app.test_client().post("/api/session", json={"username": "applicant", "password": "demo-password"})
    assert r.status_code == 200


def test_a_demo_installation_signs_sessions_with_one_key_for_every_worker_and_never_records_it(fresh):
    assert CliRunner().invoke(main, ["demo"]).exit_code == 0
    first, second = create_app(), create_app()  # two gunicorn workers (or a restart) on the same demo database
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    signed_in = first.test_client()
    assert signed_in.post("/api/session", json={"username": "applicant", "password": "demo-password"}).status_code \
        == 200
    other = second.test_client()  # the session cookie, presented to the other worker
    for cookie in signed_in._cookies.values():
        other.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    assert other.get("/api/tasks").status_code == 200  # was a 401: each worker had made its own key
    key = first.config["SECRET_KEY"]
    with first.extensions["accredit"].db.read() as s:  # every history, the system's included, is the event table
        assert not [e for e in s.scalars(sa.select(Event)) if key in str(e.data)]  # a secret: recorded nowhere


def test_demo_mode_by_environment_creates_the_demo_accounts(fresh, monkeypatch):
    monkeypatch.setenv("ACCREDIT_DEMO", "1")
    from api.app import env_config
    from tests.apps import make_app

    assert "admin" not in _users(create_app())  # building the app creates nobody …
    assert "admin" in _users(make_app(env_config()))  # … preparing the database as `accredit serve` does


def test_cli_administers_users_and_tokens(fresh):
    runner = CliRunner()
    assert runner.invoke(main, ["orgs", "create", "lab-x", "Lab X"]).exit_code == 0
    r = runner.invoke(main, ["users", "create", "xavier", "--role", "applicant", "--org", "lab-x"],
                      input="long-enough-password\nlong-enough-password\n")
    assert r.exit_code == 0, r.output
    assert "lab-x" in runner.invoke(main, ["orgs", "list"]).output
    token = runner.invoke(main, ["users", "token", "xavier", "--name", "ci"]).output.strip()
    assert token.startswith("acc_")
    listed = runner.invoke(main, ["users", "tokens", "xavier"]).output
    assert "ci" in listed and "active" in listed
    r = runner.invoke(main, ["users", "set", "xavier", "--role", "applicant", "--role", "inspector"])
    assert r.exit_code == 0 and "applicant, inspector" in r.output
    r = runner.invoke(main, ["users", "deactivate", "xavier"])
    assert r.exit_code == 0 and "inactive" in r.output
    assert "revoked" in runner.invoke(main, ["users", "tokens", "xavier"]).output
    assert "active" in runner.invoke(main, ["users", "reactivate", "xavier"]).output
    r = runner.invoke(main, ["users", "set", "nobody", "--name", "X"])
    assert r.exit_code == 1 and "does not exist" in r.output
    r = runner.invoke(main, ["users", "revoke-token", "xavier", "999"])
    assert r.exit_code == 1 and "no token 999" in r.output
