"""Where the shipped process library, the database file and the attachments live (overridable by environment).

Every configured path is made absolute once, at start-up (:func:`absolute_paths`): a relative path means "relative
to the directory the command was started in", and must not be re-read later against another directory (Flask's
``send_file`` resolves relative paths against the application package, which made every download a 500)."""
from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def processes_dir() -> Path:
    return Path(os.environ.get("ACCREDIT_PROCESSES_DIR", _REPO / "processes")).resolve()


def forms_dir() -> Path:
    return Path(os.environ.get("ACCREDIT_FORMS_DIR", _REPO / "forms")).resolve()


def absolute_database_url(url: str) -> str:
    """A SQLite URL with a relative file path, rewritten to the absolute path (other URLs unchanged)."""
    prefix, sep, rest = url.partition(":///")
    if not sep or not prefix.startswith("sqlite") or not rest or rest == ":memory:" or rest.startswith("/"):
        return url
    path, query_sep, query = rest.partition("?")
    return f"{prefix}:///{Path(path).resolve()}{query_sep}{query}"


def absolute_paths(config: dict) -> dict:
    """The path settings of an app configuration (attachments directory, database file), made absolute."""
    out = {}
    if config.get("ATTACHMENTS_DIR"):
        out["ATTACHMENTS_DIR"] = str(Path(config["ATTACHMENTS_DIR"]).resolve())
    if config.get("DATABASE_URL"):
        out["DATABASE_URL"] = absolute_database_url(config["DATABASE_URL"])
    return out
