"""Scenario fixtures: the shipped library deployed into a fresh SQLite file, the clock at T0."""
from __future__ import annotations

import pytest

from engine.cases.services import Engine

from ..conftest import FORMS, PROCESSES
from .harness import PEOPLE, Driver, traveller


@pytest.fixture(scope="session")
def shipped_files():
    from engine.definitions.bundles import read_directories

    return read_directories(PROCESSES, FORMS)


@pytest.fixture
def drive(db, shipped_files, tmp_path):
    from engine.users.identity import Identity
    from engine.cases.workspace import Workspace

    engine = Engine(db, script_time_limit=2.0)
    engine.deploy(shipped_files, deployed_by="system", note="shipped library")
    identity = Identity(db)
    for org in ("lab-a", "lab-b"):
        identity.create_organisation(org, org)
    for actor in PEOPLE.values():  # forms check that assigned inspectors / panel members are real users
        identity.create_user(actor.username, "scenario-password", actor.roles, display_name=actor.display_name,
                             organisation_id=actor.organisation_id)
    workspace = Workspace(db, engine, identity, tmp_path / "files")
    with traveller() as clock:
        yield Driver(engine, workspace, clock)
