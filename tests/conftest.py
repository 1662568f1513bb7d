"""Shared fixtures: a real SQLite file per test, migrated with Alembic, and an Engine on it."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

# Hundreds of users are created below: a cheap argon2 setting for tests only (engine/users/identity.py).
os.environ.setdefault("ACCREDIT_PASSWORD_HASH", "fast")

import pytest
import sqlalchemy as sa

from engine.actors import Actor
from engine.storage.db import Database
from engine.cases.services import Engine

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = Path(os.environ.get("ACCREDIT_TEST_PROCESSES", ROOT / "processes"))
FORMS = ROOT / "forms"


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'accredit.sqlite'}")
    database.migrate()
    yield database
    database.dispose()


PG_ADMIN_URL = os.environ.get("ACCREDIT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_reachable() -> str | None:
    """None if PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        eng = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with eng.connect() as conn:
            conn.execute(sa.text("select 1"))
        eng.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        return f"no PostgreSQL server reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"
    return None


@pytest.fixture
def pg_db():
    """A fresh PostgreSQL database, migrated, dropped afterwards. Skips with a reason when none answers."""
    reason = _pg_reachable()
    if reason:
        pytest.skip(reason)
    name = f"accredit_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    database = Database(url)
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(db):
    return Engine(db, script_time_limit=1.0)


@pytest.fixture
def actors():
    """One user per role; applicants belong to lab-a / lab-b."""
    return {
        "applicant": Actor("alice", {"applicant"}, "lab-a", "Alice Applicant"),
        "applicant_b": Actor("bob", {"applicant"}, "lab-b", "Bob Applicant"),
        "coordinator": Actor("carol", {"coordinator"}, None, "Carol Coordinator"),
        "inspector": Actor("ivan", {"inspector"}, None, "Ivan Inspector"),
        "inspector2": Actor("iris", {"inspector"}, None, "Iris Inspector"),
        "committee": Actor("cody", {"committee"}, None, "Cody Committee"),
        "committee2": Actor("cleo", {"committee"}, None, "Cleo Committee"),
        "auditor": Actor("audrey", {"auditor"}, None, "Audrey Auditor"),
    }
