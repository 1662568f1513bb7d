"""What the ``accredit`` command says when something goes wrong: one sentence and a non-zero exit, never a
traceback. A wrong database URL, an unreachable or missing database, a database without the schema, a
duplicate, an unusable audit key, a file that cannot be read — each becomes a line naming what to fix.
(Set ``ACCREDIT_DEBUG=1`` to get the traceback instead, for a bug report.)"""
from __future__ import annotations

import os

import click
import sqlalchemy as sa

from engine.storage.db import database_url
from engine.errors import EngineError


def _url() -> str:
    raw = database_url()
    try:
        return sa.engine.make_url(raw).render_as_string(hide_password=True)
    except Exception:  # not even parseable: say it as given, minus anything after an '@'-less password guess
        return raw


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0].strip() if text else type(orig).__name__


_MISSING_SCHEMA = ("no such table", "does not exist", "undefinedtable", "undefined table")


def _where(error: dict) -> str:
    """A form field, or a diagram's file:line [element] (validation problems)."""
    if error.get("field"):
        return str(error["field"])
    place = ":".join(str(error[k]) for k in ("file", "line") if error.get(k))
    return place + (f" [{error['element_id']}]" if error.get("element_id") else "")


def explain(exc: BaseException) -> str:
    """One line for the operator."""
    if isinstance(exc, EngineError):
        errors = exc.details.get("errors") or []
        fields = "; ".join(f"{_where(e)} {e.get('message', '')}".strip() for e in errors if isinstance(e, dict))
        return exc.message + (f" ({fields})" if fields else "")
    if isinstance(exc, (sa.exc.ArgumentError, sa.exc.NoSuchModuleError)):
        return (f"the database URL '{_url()}' is not valid ({_first_line(exc)}); set DATABASE_URL to e.g. "
                f"sqlite:///var/accredit.sqlite or postgresql://user:password@host/dbname")
    if isinstance(exc, sa.exc.IntegrityError):
        return f"that record exists already or refers to something missing: {_first_line(exc)}"
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.ProgrammingError)):
        message = _first_line(exc)
        lower = message.lower()
        if "connection" in lower and ("database" in lower and "does not exist" in lower):
            return (f"the database named in {_url()} does not exist ({message.split('FATAL:')[-1].strip()}); "
                    f"create it (e.g. createdb) or correct DATABASE_URL")
        if "connection failed" in lower or "could not connect" in lower or "connection refused" in lower:
            return f"cannot connect to the database {_url()}: {message}; is the server running and the URL right?"
        if any(m in lower for m in _MISSING_SCHEMA):
            return (f"the database {_url()} has no accredit schema ({message}); run `accredit db upgrade` "
                    f"(or check DATABASE_URL)")
        if "unable to open database file" in message:
            return f"cannot open the SQLite database {_url()}: does its directory exist and is it writable?"
        return f"cannot use the database {_url()}: {message}"
    if isinstance(exc, sa.exc.SQLAlchemyError):
        return f"database error on {_url()}: {_first_line(exc)}"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        return f"cannot access{where}: {exc.strerror or exc}"
    if isinstance(exc, (ValueError, UnicodeError)):
        return f"invalid input: {_first_line(exc)}"
    return f"unexpected {type(exc).__name__}: {_first_line(exc)} (ACCREDIT_DEBUG=1 shows the details)"


class SentenceGroup(click.Group):
    """A click group whose commands report failures as one sentence (exit 1)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit,
                KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get("ACCREDIT_DEBUG"):
                raise
            raise click.ClickException(explain(exc)) from None
