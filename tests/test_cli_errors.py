"""`accredit` answers in sentences: every error path (wrong database URL, unreachable or missing database,
missing schema, duplicates, unknown references, an unusable audit key) is one line and a non-zero exit,
never a traceback. Real CLI through click's runner, plus one real subprocess."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from api.cli import main
from engine.storage.db import Database

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, url, input=None, **env):
    env = {"DATABASE_URL": url, "ACCREDIT_AUDIT_KEY": "", "ACCREDIT_AUDIT_KEY_FILE": "", "ACCREDIT_DEBUG": "",
           **env}
    return CliRunner().invoke(main, args, env=env, input=input)


def sentence(result) -> str:
    """The failure: exit 1, no exception escaped, one 'Error: …' line."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [ln for ln in result.output.splitlines() if ln.strip() and not ln.startswith(("Password", "Repeat",
                                                                                        "Warning"))]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def migrated(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    database = Database(url)
    database.migrate()
    database.dispose()
    return url


@pytest.mark.parametrize("args", [["audit", "verify"], ["timers", "fire"], ["users", "list"], ["db", "upgrade"],
                                  ["orgs", "create", "lab-x", "X"], ["audit", "export", "X-1"]])
def test_a_wrong_database_url_is_one_sentence(args):
    line = sentence(run(args, "nosuchdb://somewhere/x"))
    assert "database URL" in line and "not valid" in line


def test_an_unreachable_database_is_one_sentence():
    line = sentence(run(["audit", "verify"], "postgresql://postgres@127.0.0.1:1/accredit"))
    assert "cannot connect" in line


def test_a_missing_postgresql_database_is_one_sentence():
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    try:
        engine.connect().close()
    except Exception:
        pytest.skip("PostgreSQL on 127.0.0.1:5432 is not reachable")
    finally:
        engine.dispose()
    line = sentence(run(["timers", "fire"], "postgresql://postgres@127.0.0.1:5432/accredit_no_such_db"))
    assert "does not exist" in line and "accredit_no_such_db" in line


@pytest.mark.parametrize("args", [["audit", "verify"], ["timers", "fire"], ["audit", "export", "X-1"]])
def test_a_database_without_the_schema_is_one_sentence(tmp_path, args):
    line = sentence(run(args, f"sqlite:///{tmp_path / 'empty.sqlite'}"))
    assert "no accredit schema" in line and "accredit db upgrade" in line


def test_duplicates_and_unknown_references_are_one_sentence(migrated):
    assert run(["orgs", "create", "lab-a", "Lab A"], migrated).exit_code == 0
    assert "exists already" in sentence(run(["orgs", "create", "lab-a", "Lab A"], migrated))
    pw = "long-enough-password\nlong-enough-password\n"
    assert "lab-zz" in sentence(run(["users", "create", "bob", "--role", "applicant", "--org", "lab-zz"], migrated,
                                    input=pw))
    assert run(["users", "create", "bob", "--role", "applicant", "--org", "lab-a"], migrated, input=pw).exit_code == 0
    assert "exists already" in sentence(run(["users", "create", "bob", "--role", "applicant", "--org", "lab-a"],
                                            migrated, input=pw))
    assert "roles" in sentence(run(["users", "create", "wiz", "--role", "wizard"], migrated, input=pw))
    assert "nobody" in sentence(run(["users", "token", "nobody"], migrated))
    assert "no case" in sentence(run(["audit", "export", "NO-SUCH-CASE"], migrated))


def test_an_unusable_audit_key_is_one_sentence(migrated, tmp_path):
    assert "not hexadecimal" in sentence(run(["audit", "verify"], migrated, ACCREDIT_AUDIT_KEY="not-hex"))
    missing = tmp_path / "missing.key"
    assert "cannot read the audit key file" in sentence(run(["audit", "verify"], migrated,
                                                            ACCREDIT_AUDIT_KEY_FILE=str(missing)))
    assert "no audit key" in sentence(run(["audit", "checkpoint"], migrated))


def test_a_real_process_prints_no_traceback(tmp_path):
    env = {**os.environ, "DATABASE_URL": "nosuchdb://x", "PYTHONPATH": ROOT}
    env.pop("ACCREDIT_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "api.cli", "audit", "verify"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("Error: the database URL 'nosuchdb://x' is not valid")


#: every command that opens the database, with the arguments it needs (serve/scheduler fail before serving)
DB_COMMANDS = [["serve", "--port", "0"], ["scheduler"], ["db", "upgrade"], ["processes", "deploy"], ["demo"],
               ["users", "create", "bob", "--role", "applicant"], ["users", "list"], ["users", "token", "bob"],
               ["users", "deactivate", "bob"], ["users", "reactivate", "bob"], ["users", "set", "bob"],
               ["users", "tokens", "bob"], ["users", "revoke-token", "bob", "--all"], ["orgs", "create", "lab-x", "X"],
               ["orgs", "list"], ["audit", "verify"], ["audit", "export", "X-1"], ["timers", "fire"]]
PW = "long-enough-password\nlong-enough-password\n"


@pytest.mark.parametrize("args", DB_COMMANDS, ids=" ".join)
def test_every_command_answers_a_wrong_or_unreachable_database_in_one_line(args):
    assert "is not valid" in sentence(run(args, "postgress://postgres@127.0.0.1/accredit", input=PW))
    # a PostgreSQL URL with no server on that port
    assert "cannot connect" in sentence(run(args, "postgresql://postgres@127.0.0.1:1/accredit", input=PW))


@pytest.mark.parametrize("args", DB_COMMANDS, ids=" ".join)
def test_every_command_answers_a_file_that_is_not_a_database_in_one_line(tmp_path, args):
    garbage = tmp_path / "notes.sqlite"
    garbage.write_bytes(b"this is a text file, not a database\n" * 200)
    assert "file is not a database" in sentence(run(args, f"sqlite:///{garbage}", input=PW))


@pytest.mark.parametrize("args", [["scheduler"], ["orgs", "create", "lab-x", "X"],
                                  ["processes", "deploy"], ["demo"]], ids=" ".join)
def test_a_read_only_database_is_one_sentence(migrated, args, tmp_path, monkeypatch):
    """A migrated database the process may not write (opened read-only: root ignores file modes). The scheduler
    used to start and log a traceback at every heartbeat; now it refuses to start."""
    monkeypatch.chdir(tmp_path)  # engine.storage.db makes the parent folders of a SQLite path: 'file:…' reads as relative
    path = migrated.removeprefix("sqlite:///")
    line = sentence(run(args, f"sqlite:///file:{path}?mode=ro&uri=true", ACCREDIT_SECRET_KEY="k" * 40,
                        ACCREDIT_DEPLOY_SHIPPED="0"))
    assert "readonly database" in line


def test_an_organisation_without_an_id_or_a_name_is_refused_in_one_line(migrated):
    """The API's schema refused these; the CLI went straight to the engine and created organisation ''."""
    line = sentence(run(["orgs", "create", "", ""], migrated))
    assert "/id" in line and "/name" in line
    assert "/id" in sentence(run(["orgs", "create", "Lab A!", "Lab A"], migrated))
    assert run(["orgs", "list"], migrated).output == ""


def test_a_refused_user_change_names_the_field_in_words(migrated):
    pw = "long-enough-password\nlong-enough-password\n"
    assert run(["users", "create", "carol", "--role", "coordinator"], migrated, input=pw).exit_code == 0
    line = sentence(run(["users", "set", "carol", "--role", "wizard"], migrated))
    assert "/roles among applicant" in line and "[{" not in line and "'field'" not in line
