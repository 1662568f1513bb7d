"""The ``accredit`` command."""
from __future__ import annotations

import json
import sys

import click

from engine.config import forms_dir, processes_dir
from engine.db import Database, database_url


@click.group()
def main():
    """accredit — the accreditation workflow engine."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug/--no-debug", default=False)
def serve(host, port, debug):
    """Run the development server (migrates the database and deploys the shipped processes)."""
    from .app import create_app

    app = create_app()
    click.echo(f"accredit: database {database_url()}; serving on http://{host}:{port}/api/health")
    app.run(host=host, port=port, debug=debug, use_reloader=False)


@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
def db_upgrade():
    """Apply Alembic migrations up to the newest revision."""
    Database(database_url()).migrate()
    click.echo("database is up to date")


@main.group()
def processes():
    """The process library (BPMN, DMN, forms)."""


def _library_args(f):
    f = click.option("--forms", "forms", type=click.Path(exists=True, file_okay=False), default=None,
                     help="forms directory (default: the shipped forms/)")(f)
    return click.argument("directory", type=click.Path(exists=True, file_okay=False), required=False)(f)


@processes.command("validate")
@_library_args
def processes_validate(directory, forms):
    """Validate a process library; report every error with file, element and line."""
    from engine.library import load_library, read_directories

    lib = load_library(read_directories(directory or processes_dir(), forms or forms_dir()))
    for p in lib.problems:
        click.echo(str(p), err=p.severity == "error")
    click.echo(json.dumps({"valid": lib.ok, "errors": len(lib.errors), "warnings": len(lib.warnings),
                           "processes": sorted(lib.processes)}))
    sys.exit(0 if lib.ok else 1)


@processes.command("deploy")
@_library_args
@click.option("--by", "deployed_by", default="system", show_default=True)
@click.option("--note", default=None)
def processes_deploy(directory, forms, deployed_by, note):
    """Deploy the library: every changed process becomes a new version."""
    from engine.errors import DefinitionInvalid
    from engine.services import Engine

    database = Database(database_url())
    database.migrate()
    try:
        result = Engine(database).deploy_directories(directory or processes_dir(), forms or forms_dir(),
                                                     deployed_by, note)
    except DefinitionInvalid as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        sys.exit(1)
    for d in result.deployed:
        click.echo(f"{d['key']}: v{d['version']} {'deployed' if d['created'] else 'unchanged'}")


@main.group()
def timers():
    """Timers of running cases."""


@timers.command("fire")
def timers_fire():
    """Fire every timer that is due now (one transaction per case)."""
    from engine.services import Engine

    database = Database(database_url())
    advanced = Engine(database).fire_due_timers()
    click.echo(f"advanced {len(advanced)} case(s)")
