"""Deploying the library's files from disk — the shipped ``processes/`` + ``forms/`` (or a directory given to
``accredit processes deploy``) — through the same deployment as an upload (:class:`engine.cases.deployment.Deployment`:
the same validation, immutable versions and ``definition.deployed`` history), under one rule:

    A process gets a new version from the files only when their content differs from the version it was last
    deployed *from the files*. If someone deployed a newer version since (a quality manager, over HTTP or the
    studio), the files do not replace it: the command refuses with one sentence naming the version, unless
    ``--force``; start-up (``accredit serve``) never replaces it and says which version it kept.

Which version came from the files is read from the system history (``definition.deployed`` with
``source: shipped``; before that field existed, the start-up deployment's reason ``shipped library`` or a
deployment with no reason, which only the command line made).
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from engine.actors import SYSTEM
from engine.definitions.bundles import read_directories
from .deployment import BundleInvalid, Deployment
from engine.errors import Conflict
from engine.storage.models import Event, ProcessDefinition

SHIPPED = "shipped"


def deploy_shipped(deployment: Deployment, processes_dir: str | Path, forms_dir: str | Path) -> dict:
    """Start-up: deploy what changed in the shipped files; keep every version a quality manager deployed."""
    return _deploy(deployment, read_directories(processes_dir, forms_dir), SYSTEM.username, "shipped library",
                   newer="keep")


def deploy_library(deployment: Deployment, processes_dir: str | Path, forms_dir: str | Path, *, deployed_by: str,
                   note: str | None = None, force: bool = False) -> dict:
    """``accredit processes deploy``: refuses (:class:`engine.errors.Conflict`, nothing deployed) when a newer
    version than the files' last deployment exists and ``force`` is not given."""
    note = (note or "").strip() or f"deployed from the command line by {deployed_by}"
    return _deploy(deployment, read_directories(processes_dir, forms_dir), deployed_by, note,
                   newer="replace" if force else "refuse")


def _deploy(deployment: Deployment, files: dict[str, str], deployed_by: str, note: str, newer: str) -> dict:
    with deployment.db.write() as s:
        lib, targets, supplemented = deployment.plan(s, files)
        report = deployment.report_of(lib, supplemented)
        if not lib.ok:
            raise BundleInvalid(report)
        from_files = _shipped_versions(s)
        write: dict[str, str] = {}
        kept, refused = [], []
        for key in sorted(k for k, why in targets.items() if why == "uploaded" and k in lib.processes):
            pv = lib.processes[key]
            versions = {v: h for v, h in s.execute(sa.select(ProcessDefinition.version, ProcessDefinition.content_hash)
                                                   .where(ProcessDefinition.key == key))}
            latest = max(versions, default=None)
            shipped = from_files.get(key)
            if latest is None:
                write[key] = "new process"
                continue
            if shipped is None:  # never deployed from the files: content some version had is not new
                shipped = max((v for v, h in versions.items() if h == pv.content_hash), default=None)
                if shipped is None:
                    shipped = 0
            if shipped and versions.get(shipped) == pv.content_hash:
                kept.append({"key": key, "version": latest, "previous_version": latest, "created": False,
                             "content_hash": versions[latest], "reason": "the files are unchanged"
                             + (f" since v{shipped}; v{latest} stays the latest" if latest != shipped else "")})
                continue
            if latest == shipped or newer == "replace":
                write[key] = "the files changed" if latest == shipped else f"forced over v{latest}"
                continue
            row = s.scalar(sa.select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                              ProcessDefinition.version == latest))
            since = f"since the files were deployed as v{shipped}" if shipped else "and the files were never deployed"
            entry = {"key": key, "version": latest, "previous_version": latest, "created": False,
                     "content_hash": versions[latest],
                     "reason": f"v{latest} was deployed by {row.deployed_by} on {row.deployed_at:%Y-%m-%d} {since}"}
            (kept if newer == "keep" else refused).append(entry)
        if refused:
            names = "; ".join(r["reason"].replace(f"v{r['version']}", f"'{r['key']}' v{r['version']}", 1)
                              for r in refused)
            raise Conflict(f"not deployed: a newer version than the files exists ({names}); the files would replace "
                           f"it — deploy them anyway with --force", processes=[r["key"] for r in refused])
        deployed = deployment.write_versions(s, lib, write, deployed_by, note, source=SHIPPED)
    return {**report, "deploy": sorted(deployed + kept, key=lambda d: d["key"]), "note": note,
            "deployed_by": deployed_by}


def _shipped_versions(s) -> dict[str, int]:
    """{process key: the latest version deployed from the files}, from the system history."""
    out: dict[str, int] = {}
    rows = s.scalars(sa.select(Event.data).where(Event.case_id.is_(None), Event.action == "definition.deployed")
                     .order_by(Event.seq))
    for data in rows:
        data = data or {}
        source = data.get("source") or ("shipped" if data.get("reason") in (None, "shipped library") else "upload")
        if source == SHIPPED and data.get("key") and data.get("version"):
            out[data["key"]] = int(data["version"])
    return out
