"""Scenario fixtures: the shipped library deployed into a fresh SQLite file, the clock at T0."""
from __future__ import annotations

import pytest

from engine.cases.services import Engine

from ..conftest import FORMS, PROCESSES
from .harness import Driver, create_people, traveller


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
    create_people(identity)
    workspace = Workspace(db, engine, identity, tmp_path / "files")
    with traveller() as clock:
        yield Driver(engine, workspace, clock)
