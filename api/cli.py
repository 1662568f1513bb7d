"""The ``accredit`` command."""
from __future__ import annotations

import json
import sys

import click

from engine.config import forms_dir, processes_dir
from engine.storage.db import Database, database_url

from .cli_errors import SentenceGroup, explain


@click.group(cls=SentenceGroup)
def main():
    """accredit — the accreditation workflow engine."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug/--no-debug", default=False)
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="run the timer scheduler (in this process; with --workers, as one child process)")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="serve with gunicorn and this many worker processes (production); without it, the "
                   "single-process development server")
@click.option("--graceful-timeout", default=30, show_default=True, type=click.IntRange(1),
              help="with --workers: seconds a worker may take to finish its request after SIGTERM")
@click.option("--timeout", "worker_timeout", default=60, show_default=True, type=click.IntRange(1),
              help="with --workers: a worker silent for this long is killed and replaced")
def serve(host, port, debug, scheduler, workers, graceful_timeout, worker_timeout):
    """Run the server (migrates the database and deploys the shipped processes first, once).

    SIGTERM stops it gracefully: requests in progress are finished, then the scheduler stops."""
    from engine.bootstrap import prepare

    from .app import UnsafeConfiguration, create_app, env_config

    config = env_config()
    database = Database(config["DATABASE_URL"])
    try:
        report = prepare(database, deploy_shipped=config["DEPLOY_SHIPPED"], demo=config["DEMO"])
    finally:
        database.dispose()
    for d in report.get("deploy", []):
        if d["created"]:
            click.echo(f"accredit: deployed {d['key']} v{d['version']} from the shipped files")
        elif " was deployed by " in d.get("reason", ""):
            click.echo(f"accredit: kept {d['key']} v{d['version']}: {d['reason']} (the shipped files differ; "
                       f"`accredit processes deploy --force` would deploy them)")
    try:
        app = create_app()
    except UnsafeConfiguration as exc:
        raise click.ClickException(str(exc))
    if workers is not None:
        from . import server

        app.extensions["accredit"].db.dispose()  # the workers build their own app: nothing crosses the fork
        click.echo(f"accredit: database {database_url()}; {workers} worker(s) on http://{host}:{port}/")
        if workers > 1 and app.extensions["accredit"].db.is_sqlite:
            click.echo("accredit: warning: SQLite writes one transaction at a time (the workers queue for it, a "
                       "task completion only for its writes): more workers than cores, or hosts, need PostgreSQL "
                       "(docs/operator-guide.md)", err=True)
        server.run(host, port, workers, scheduler=scheduler, graceful_timeout=graceful_timeout,
                   timeout=worker_timeout)
        return
    import signal

    signal.signal(signal.SIGTERM, _stop_dev_server)  # so the scheduler below is shut down, not killed
    timer_scheduler = None
    if scheduler:
        from engine import health
        from engine.scheduler import TimerScheduler

        health.beat(app.extensions["accredit"].db)  # a database it cannot write is one sentence, not a log loop
        timer_scheduler = TimerScheduler(app.extensions["accredit"].engine).start()
        click.echo(f"accredit: timer scheduler running; next wake-up {timer_scheduler.next_wakeup()}")
    click.echo(f"accredit: database {database_url()}")
    click.echo(f"accredit: open http://{host}:{port}/ (inbox); the API is described at http://{host}:{port}/api/docs")
    from .server import settle_heap

    settle_heap()
    try:
        app.run(host=host, port=port, debug=debug, use_reloader=False)
    finally:
        if timer_scheduler is not None:
            timer_scheduler.shutdown()


def _stop_dev_server(*_):
    raise SystemExit(0)


@main.command("scheduler")
@click.option("--resync", default=30.0, show_default=True, type=float,
              help="seconds between re-reads of the earliest due timer (for timers made by other processes)")
def scheduler_command(resync):
    """Run the timer scheduler standalone (production: next to gunicorn; several may run on PostgreSQL)."""
    import signal
    import threading

    from engine import health
    from engine.scheduler import TimerScheduler
    from engine.cases.services import Engine

    stop = threading.Event()  # handlers first: the catch-up at start may take a while
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    database = Database(database_url())
    database.migrate()
    health.beat(database)  # a database it cannot write (read-only file, no rights) is one sentence, not a log loop
    sched = TimerScheduler(Engine(database), resync_seconds=resync,
                           on_fired=lambda ids: click.echo(f"accredit scheduler: advanced {len(ids)} case(s)")
                           if ids else None).start()
    click.echo(f"accredit scheduler: database {database_url()}; next wake-up {sched.next_wakeup()}")
    stop.wait()
    sched.shutdown()
    click.echo("accredit scheduler: stopped")


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
    from engine.definitions.bundles import read_directories
    from engine.definitions.library import load_library

    lib = load_library(read_directories(directory or processes_dir(), forms or forms_dir()))
    for p in lib.problems:
        click.echo(str(p), err=p.severity == "error")
    click.echo(json.dumps({"valid": lib.ok, "errors": len(lib.errors), "warnings": len(lib.warnings),
                           "processes": sorted(lib.processes)}))
    sys.exit(0 if lib.ok else 1)


@processes.command("deploy")
@_library_args
@click.option("--by", "deployed_by", default=None, help="who deploys (default: your operating-system user)")
@click.option("--note", default=None, help="the change note (default: 'deployed from the command line by …')")
@click.option("--force", is_flag=True,
              help="deploy the files even over a newer version a quality manager deployed since")
def processes_deploy(directory, forms, deployed_by, note, force):
    """Deploy the library's files through the same deployment as the API: a process whose files changed since
    they were last deployed becomes a new immutable version (recorded in the system history). A version a
    quality manager deployed since is never replaced without --force."""
    import getpass

    from engine.cases.deployment import BundleInvalid, Deployment
    from engine.cases.services import Engine
    from engine.cases.shipped import deploy_library

    database = Database(database_url())
    database.migrate()
    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment (a container without one)
        user = "unknown"
    by = (deployed_by or "").strip() or user
    try:
        result = deploy_library(Deployment(Engine(database)), directory or processes_dir(), forms or forms_dir(),
                                deployed_by=by, note=note, force=force)
    except BundleInvalid as exc:
        for p in exc.report["errors"]:
            click.echo(_problem_line(p), err=True)
        raise click.ClickException(f"nothing was deployed: the library has {len(exc.report['errors'])} error(s)")
    for w in result["warnings"]:
        click.echo(_problem_line(w), err=True)
    for d in result["deploy"]:
        state = "deployed" if d["created"] else "unchanged"
        click.echo(f"{d['key']}: v{d['version']} {state}" + (f" ({d['reason']})" if not d["created"] else ""))
    click.echo(f"note: {result['note']}")


def _problem_line(p: dict) -> str:
    where = ":".join(str(x) for x in (p.get("file"), p.get("line")) if x)
    elem = f" [{p['element_id']}]" if p.get("element_id") else ""
    return f"{p.get('severity', 'error')}: {where}{elem} {p['message']}".strip()


def _identity():
    from engine.users.identity import Identity

    database = Database(database_url())
    database.migrate()
    return Identity(database)


@main.command()
def demo():
    """Create demo organisations and one user per role, and mark the database as a demo installation (it then
    serves without ACCREDIT_SECRET_KEY). For trying accredit locally; never on a production database."""
    from engine.users.identity import create_demo

    rows = create_demo(_identity())
    click.echo("demo users (username / password / roles):")
    for username, password, roles in rows:
        click.echo(f"  {username:16} {password:14} {', '.join(roles)}")


@main.group()
def users():
    """User accounts."""


@users.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="repeat for several roles")
@click.option("--org", "organisation_id", default=None, help="organisation id (applicants)")
@click.option("--name", "display_name", default=None)
@click.option("--email", default=None)
@click.password_option()
def users_create(username, roles, organisation_id, display_name, email, password):
    """Create a user (asks for the password)."""
    u = _identity().create_user(username, password, roles, display_name=display_name,
                                organisation_id=organisation_id, email=email, by="cli")
    click.echo(f"created {u.username} ({', '.join(u.roles)})")


@users.command("list")
def users_list():
    for u in _identity().users():
        click.echo(f"{u.username:20} {'active' if u.active else 'inactive':8} {u.organisation_id or '-':12} "
                   f"{', '.join(u.roles)}")


@users.command("token")
@click.argument("username")
@click.option("--name", default="cli")
def users_token(username, name):
    """Issue an API token for a user (printed once)."""
    click.echo(_identity().issue_token(username, name, by="cli"))


def _change_user(username, changes):
    from engine.errors import EngineError

    try:
        u = _identity().update_user(username, changes, by="cli")
    except EngineError as exc:
        raise click.ClickException(explain(exc))  # the fields in words, not a Python list
    click.echo(f"{u.username}: {'active' if u.active else 'inactive'}, roles {', '.join(u.roles)}, "
               f"organisation {u.organisation_id or '-'}")


@users.command("deactivate")
@click.argument("username")
def users_deactivate(username):
    """Deactivate a user: sign-in refused, sessions ended and API tokens revoked at once."""
    _change_user(username, {"active": False})


@users.command("reactivate")
@click.argument("username")
def users_reactivate(username):
    """Let a deactivated user sign in again (their old sessions and tokens stay ended)."""
    _change_user(username, {"active": True})


@users.command("set")
@click.argument("username")
@click.option("--role", "roles", multiple=True, help="the new roles (repeat); replaces the old ones")
@click.option("--org", "organisation_id", default=None, help="the new organisation id")
@click.option("--name", "display_name", default=None)
@click.option("--email", default=None)
def users_set(username, roles, organisation_id, display_name, email):
    """Change a user's roles, organisation, name or email."""
    changes = {k: v for k, v in (("organisation_id", organisation_id), ("display_name", display_name),
                                 ("email", email)) if v is not None}
    if roles:
        changes["roles"] = list(roles)
    _change_user(username, changes)


@users.command("tokens")
@click.argument("username")
def users_tokens(username):
    """A user's API tokens (id, name, status, created, expires, last used)."""
    for t in _identity().tokens(username):
        click.echo(f"{t['id']:6} {t['name'][:20]:20} {t['status']:8} created {t['created_at'][:16]} "
                   f"expires {(t['expires_at'] or '-')[:16]} last used {(t['last_used_at'] or '-')[:16]}")


@users.command("revoke-token")
@click.argument("username")
@click.argument("token_id", type=int, required=False)
@click.option("--all", "all_tokens", is_flag=True, help="revoke every token of the user")
def users_revoke_token(username, token_id, all_tokens):
    """Revoke one API token of a user (by id, see `accredit users tokens`), or --all of them."""
    identity = _identity()
    if all_tokens:
        click.echo(f"revoked {identity.revoke_tokens(username, by='cli')} token(s) of {username}")
    elif token_id is None:
        raise click.UsageError("give a TOKEN_ID or --all")
    else:
        from engine.errors import EngineError

        try:
            identity.revoke_token_id(username, token_id, by="cli")
        except EngineError as exc:
            raise click.ClickException(exc.message)
        click.echo(f"revoked token {token_id} of {username}")


@main.group()
def orgs():
    """Organisations (laboratories)."""


@orgs.command("create")
@click.argument("org_id")
@click.argument("name")
def orgs_create(org_id, name):
    _identity().create_organisation(org_id, name, by="cli")
    click.echo(f"created organisation {org_id}")


@orgs.command("list")
def orgs_list():
    for o in _identity().organisations():
        click.echo(f"{o['id']:20} {o['name']}")


@main.group()
def audit():
    """The audit trail: verify the hash chains, export a case's record."""


def _case_id(database, case: str) -> str:
    """A case id, or a business key naming exactly one case."""
    import sqlalchemy as sa

    from engine.storage.models import Case

    with database.read() as s:
        if s.get(Case, case) is not None:
            return case
        ids = list(s.scalars(sa.select(Case.id).where(Case.business_key == case)))
    if len(ids) != 1:
        raise click.ClickException(f"no case with id or business key '{case}'" if not ids
                                   else f"{len(ids)} cases have the business key '{case}'; give the case id")
    return ids[0]


@audit.command("verify")
@click.argument("case", required=False)
@click.option("--anchor", default=None, metavar="SEQ:HASH",
              help="a head recorded earlier (e.g. printed on an export): it must still be in the chain")
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def audit_verify(case, anchor, as_json):
    """Recompute the hash chain of CASE (id or business key), or of every case and the system events.
    Exit status 1 when a chain is broken."""
    from engine.reports.audit import verify_all, verify_chain

    database = Database(database_url())
    if anchor is not None:
        seq, _, digest = anchor.partition(":")
        if not case or not seq.isdigit() or len(digest) != 64:
            raise click.BadParameter("use --anchor SEQ:SHA256 together with a CASE", param_hint="--anchor")
        anchor = {"seq": int(seq), "hash": digest}
    if case:
        results = [verify_chain(database, _case_id(database, case), anchor)]
    else:
        results = verify_all(database)["chains"]
    if as_json:
        click.echo(json.dumps(results if not case else results[0], indent=2))
    else:
        for r in results:
            name = f"case {r['case_id']}" if r["case_id"] else "system events"
            head = r["head"] or {}
            if r["ok"]:
                signed = {"signed": "signed checkpoint ok", "empty": "empty"}.get(
                    (r.get("checkpoint") or {}).get("status"), "no audit key: checkpoints not checked")
                click.echo(f"{name}: ok, {r['checked']} events, head seq {head.get('seq', '-')} "
                           f"{head.get('hash', '-')}; {signed}")
            else:
                b = r["first_broken"]
                click.echo(f"{name}: BROKEN at seq {b['seq']}: {b['reason']}", err=True)
    sys.exit(0 if all(r["ok"] for r in results) else 1)


@audit.command("keygen")
@click.option("--file", "path", type=click.Path(dir_okay=False), default="accredit-audit.key", show_default=True,
              help="where to write the key (never overwritten)")
def audit_keygen(path):
    """Make the key that signs the audit chains' checkpoints. Keep it outside the database (and its
    backups); point ACCREDIT_AUDIT_KEY_FILE at it for the server, the scheduler and this command."""
    from engine.records.checkpoints import generate_key_file

    try:
        written = generate_key_file(path)
    except FileExistsError:
        raise click.ClickException(f"{path} already exists; a key is never overwritten") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from None
    click.echo(f"wrote a new audit key to {written} (mode 600); set ACCREDIT_AUDIT_KEY_FILE={written.resolve()}")


@audit.command("checkpoint")
@click.option("--all", "resign", is_flag=True,
              help="also re-sign chains whose checkpoint does not cover their head or was made with another key "
                   "(after you reviewed why)")
def audit_checkpoint(resign):
    """Sign the heads of intact chains that have no checkpoint yet (events written before a key was set)."""
    import sqlalchemy as sa

    from engine.records import checkpoints
    from engine.reports.audit import verify_chain
    from engine.storage.models import Case

    key = checkpoints.load_key()
    if key is None:
        raise click.ClickException(f"no audit key: set {checkpoints.KEY_ENV} or {checkpoints.KEY_FILE_ENV} "
                                   f"(make one with `accredit audit keygen`)")
    database = Database(database_url())
    with database.read() as s:
        chains = [None] + list(s.scalars(sa.select(Case.id).order_by(Case.created_at, Case.id)))
    signable = {"missing"} | ({"unsigned tail", "other key"} if resign else set())
    signed, refused = 0, 0
    for case_id in chains:
        result = verify_chain(database, case_id)
        status = result["checkpoint"].get("status")
        name = f"case {case_id}" if case_id else "system events"
        if result["ok"]:
            continue
        if not result["chain_ok"] or status not in signable:
            refused += 1
            click.echo(f"{name}: not signed: {result['first_broken']['reason']}", err=True)
            continue
        with database.write() as s:
            checkpoints.write_checkpoint(s, key, case_id)
        signed += 1
    click.echo(f"signed {signed} chain head(s); {refused} chain(s) refused")
    sys.exit(1 if refused else 0)


@audit.command("export")
@click.argument("case")
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "pdf"]), default="json", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="file to write (default: the suggested file name in the current directory)")
def audit_export(case, fmt, output):
    """Export a case's history (CSV, JSON) or its human-readable record (PDF)."""
    from engine.reports.audit import Audit

    database = Database(database_url())
    case_id = _case_id(database, case)
    reader = Audit(database, _identity())
    if fmt == "pdf":
        content, filename = reader.pdf(None, case_id)
    else:
        content, _, filename = reader.export(None, case_id, fmt)
    with open(output or filename, "wb") as f:
        f.write(content)
    click.echo(f"wrote {output or filename} ({len(content)} bytes)")


@main.group()
def timers():
    """Timers of running cases."""


@timers.command("fire")
def timers_fire():
    """Fire every timer that is due now (one transaction per case)."""
    from engine.cases.services import Engine

    database = Database(database_url())
    advanced = Engine(database).fire_due_timers()
    click.echo(f"advanced {len(advanced)} case(s)")


if __name__ == "__main__":
    main()
