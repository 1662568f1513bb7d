"""Versioned deployment of the process library: validating an upload against the deployed library, writing
immutable versions, and reading them back (versions, files, bundles, differences).

Deploying
    An upload (``{file name: text}``, read by :mod:`engine.definitions.bundles`) may be *partial*: the files it does not
    contain are taken from the latest deployed versions — the other files of the processes it carries (forms,
    DMN), the processes its call activities name, and every deployed process that uses one of the uploaded
    files or calls a process the upload redefines. Those *dependent* processes are redeployed too (a new
    ``inspection.bpmn`` makes a new ``accreditation`` version, whose stored spec embeds the inspection it
    calls). The completed bundle is validated as a whole (:func:`engine.definitions.library.load_library`): every error at
    once, each with file, element and line. A process whose content hash equals its latest version is not a
    new version. Deploying the files of an old version again makes them the latest (a roll back is a new
    version, history is kept). Every new version is a ``definition.deployed`` event in the system history.

The shipped library (``processes/`` + ``forms/``)
    is deployed through the same path, by ``accredit processes deploy`` and on start-up
    (:mod:`engine.cases.shipped`), under one rule: a process gets a new version from the
    shipped files only when their content differs from the version it was last deployed from *and* nobody
    deployed a newer version of it since. When a quality manager deployed one (over HTTP or the studio), the
    command refuses in one sentence unless ``--force``; start-up never overrides it.

Migrating running cases between versions is :mod:`engine.cases.migration`. Only a quality manager deploys and
migrates (administrators run the system, they do not own its processes).
"""
from __future__ import annotations

import hashlib
import io
import zipfile

import sqlalchemy as sa
from sqlalchemy import orm

from engine.records import history
from engine.actors import Actor
from engine.definitions.bundles import bpmn_ids, file_kind
from engine.errors import DefinitionInvalid, EngineError, Forbidden, NotFound
from engine.definitions.library import Library, load_library
from engine.storage.models import Case, ProcessDefinition, utcnow
from .services import Engine
from .spec_diff import diff_specs
from engine.vocabulary import QUALITY_MANAGER

#: who may deploy process versions and migrate cases
DEPLOY_ROLE = QUALITY_MANAGER


class BundleInvalid(DefinitionInvalid):
    """The upload, completed from the deployed library, failed validation. The problem document carries the
    report: ``errors`` (file, element_id, line, message) and ``warnings``."""

    def __init__(self, report: dict):
        EngineError.__init__(self, f"the bundle has {len(report['errors'])} error(s); nothing was deployed",
                             valid=False, errors=report["errors"], warnings=report["warnings"],
                             supplemented=report["supplemented"])
        self.problems = report["errors"]
        self.report = report



def require_quality_manager(actor: Actor, what: str) -> None:
    if not actor.has_role(DEPLOY_ROLE):
        raise Forbidden(f"only a quality manager may {what}", role=DEPLOY_ROLE)



def find_version(s, key: str, version: int) -> ProcessDefinition:
    """Version ``version`` of process ``key`` (NotFound naming both)."""
    d = s.scalar(sa.select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.version == version))
    if d is None:
        raise NotFound(f"process '{key}' has no version {version}", process_key=key, version=version)
    return d


# -- the service ------------------------------------------------------------------------------------------

class Deployment:
    """Deploy, inspect and compare process versions; migrate cases. Every write is one transaction."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.db = engine.db

    # ---------------------------------------------------------------- deploying
    def validate(self, files: dict[str, str]) -> dict:
        """The report a deployment of ``files`` would give, without deploying: valid, errors, warnings,
        which files were taken from deployed versions, and which versions would be created."""
        with self.db.read() as s:
            lib, targets, supplemented = self.plan(s, files)
            report = self.report_of(lib, supplemented)
            report["deploy"] = [self._version_plan(s, lib, key, reason) for key, reason in sorted(targets.items())
                                if key in lib.processes] if lib.ok else []
        return report

    def deploy(self, files: dict[str, str], actor: Actor, note: str | None) -> dict:
        """Deploy an upload (completed from the deployed library). Raises :class:`BundleInvalid` with the whole
        report if anything is wrong; nothing is deployed then."""
        require_quality_manager(actor, "deploy process versions")
        with self.db.write() as s:
            lib, targets, supplemented = self.plan(s, files)
            report = self.report_of(lib, supplemented)
            if not lib.ok:
                raise BundleInvalid(report)
            report["deploy"] = self.write_versions(s, lib, targets, actor.username, note)
        return report

    def plan(self, s, uploaded: dict[str, str]) -> tuple[Library, dict[str, str], dict[str, str]]:
        """Complete the upload from the latest deployed versions and validate it.

        Returns the library, the processes to deploy ({key: reason}) and {file: 'key vN'} for every file
        taken from a deployed version."""
        latest = self._latest_all(s)
        bundle, supplemented = dict(uploaded), {}
        up_defined: set[str] = set()
        for name, text in uploaded.items():
            if name.endswith(".bpmn"):
                up_defined |= bpmn_ids(text)[0]
        targets = {key: "uploaded" for key in up_defined}
        pulled: set[str] = set()
        changed = True
        while changed:
            changed = False
            defined, called = set(), set()
            for name, text in bundle.items():
                if name.endswith(".bpmn"):
                    d, c = bpmn_ids(text)
                    defined |= d
                    called |= c
            for key, d in latest.items():
                if key in pulled:
                    continue
                d_defined, d_called = set(), set()
                for name, text in d.files.items():
                    if name.endswith(".bpmn"):
                        ids = bpmn_ids(text)
                        d_defined |= ids[0]
                        d_called |= ids[1]
                uses = sorted(set(d.files) & set(uploaded))
                redefined = sorted((d_defined | d_called) & (up_defined - {key}))
                if key in up_defined:
                    reason = None
                elif uses or redefined:
                    reason = "uses " + ", ".join(uses or [f"process '{p}'" for p in redefined])
                    targets[key] = reason
                elif key in called and key not in defined:
                    reason = "called"
                else:
                    continue
                pulled.add(key)
                changed = True
                for name, text in d.files.items():
                    if name in bundle:
                        continue
                    if name.endswith(".bpmn") and bpmn_ids(text)[0] & defined:
                        continue  # the upload (or a newer deployment) defines these processes
                    bundle[name] = text
                    supplemented[name] = f"{d.key} v{d.version}"
                    if name.endswith(".bpmn"):
                        defined |= bpmn_ids(text)[0]
        lib = load_library(bundle, resolvable_from="in the upload or among the deployed processes")
        return lib, targets, supplemented

    def report_of(self, lib: Library, supplemented: dict[str, str]) -> dict:
        return {"valid": lib.ok, "errors": [p.to_dict() for p in lib.errors],
                "warnings": [p.to_dict() for p in lib.warnings], "processes": sorted(lib.processes),
                "supplemented": [{"file": f, "from": v} for f, v in sorted(supplemented.items())]}

    def _latest_all(self, s) -> dict[str, ProcessDefinition]:
        """Latest version of every key, the most recently deployed first (its files win a name clash)."""
        newest = sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("v")) \
            .group_by(ProcessDefinition.key).subquery()
        rows = s.scalars(sa.select(ProcessDefinition).join(
            newest, sa.and_(ProcessDefinition.key == newest.c.key, ProcessDefinition.version == newest.c.v))
            .options(orm.defer(ProcessDefinition.spec)).order_by(ProcessDefinition.id.desc()))
        return {r.key: r for r in rows}

    def _version_plan(self, s, lib: Library, key: str, reason: str) -> dict:
        pv = lib.processes[key]
        latest = self.engine.specs.latest(s, key)
        same = latest is not None and latest.content_hash == pv.content_hash
        return {"key": key, "version": latest.version if same else (latest.version + 1 if latest else 1),
                "created": not same, "previous_version": latest.version if latest else None,
                "content_hash": pv.content_hash, "reason": reason}

    def write_versions(self, s, lib: Library, targets: dict[str, str], deployed_by: str, note: str | None,
                       source: str = "upload") -> list[dict]:
        """Write a new immutable version of every target process whose content differs from its latest
        version, each with a ``definition.deployed`` event in the system history (``source``: ``upload`` or
        ``shipped`` — the shipped files' rule, :mod:`engine.cases.shipped`, reads it back)."""
        out = []
        for key, reason in sorted(targets.items()):
            pv = lib.processes.get(key)
            if pv is None:
                continue
            latest = self.engine.specs.latest(s, key)
            entry = {"key": key, "previous_version": latest.version if latest else None,
                     "content_hash": pv.content_hash, "reason": reason}
            if latest is not None and latest.content_hash == pv.content_hash:
                out.append({**entry, "version": latest.version, "created": False})
                continue
            version = (latest.version + 1) if latest else 1
            s.add(ProcessDefinition(
                key=key, name=pv.name, version=version, content_hash=pv.content_hash, files=pv.files,
                spec=self.engine.serializer.dump_specs(pv.spec, pv.subprocess_specs), start_message=pv.start_message,
                deployed_by=deployed_by, deployed_at=utcnow(), note=note))
            s.flush()
            history.record_system(s, deployed_by, "definition.deployed",
                                  {"key": key, "version": version, "content_hash": pv.content_hash, "note": note,
                                   "reason": reason, "source": source, "files": sorted(pv.files)})
            out.append({**entry, "version": version, "created": True})
        return out

    def deploy_as(self, files: dict[str, str], deployed_by: str, note: str | None = None) -> dict:
        """Deploy a whole bundle in the name of ``deployed_by`` without a role check — for set-up code and
        tests that hold no signed-in quality manager. The same validation, versions and history as
        :meth:`deploy`; raises :class:`engine.errors.DefinitionInvalid` (``problems``: the errors)."""
        lib = load_library(files)
        report = self.report_of(lib, {})
        if not lib.ok:
            raise DefinitionInvalid(f"the bundle has {len(lib.errors)} error(s); nothing was deployed", lib.errors,
                                    warnings=report["warnings"])
        with self.db.write() as s:
            report["deploy"] = self.write_versions(s, lib, {k: "uploaded" for k in lib.processes}, deployed_by, note)
        return report

    # ---------------------------------------------------------------- reading
    def overview(self) -> list[dict]:
        """Per process key: every version, which is the latest, how many open (running) cases each has."""
        cols = (ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.name, ProcessDefinition.version,
                ProcessDefinition.content_hash, ProcessDefinition.start_message, ProcessDefinition.deployed_by,
                ProcessDefinition.deployed_at, ProcessDefinition.note)
        with self.db.read() as s:
            rows = s.execute(sa.select(*cols).order_by(ProcessDefinition.key, ProcessDefinition.version)).all()
            counts = self._case_counts(s)
        out: dict[str, dict] = {}
        for r in rows:
            entry = out.setdefault(r.key, {"key": r.key, "versions": [], "open_cases": 0})
            running, total = counts.get(r.id, (0, 0))
            entry.update(name=r.name, latest_version=r.version, start_message=r.start_message)
            entry["open_cases"] += running
            entry["versions"].append({"version": r.version, "content_hash": r.content_hash,
                                      "deployed_by": r.deployed_by, "deployed_at": r.deployed_at, "note": r.note,
                                      "open_cases": running, "cases": total, "latest": False})
        for entry in out.values():
            entry["versions"][-1]["latest"] = True
        return list(out.values())

    def version(self, key: str, version: int) -> dict:
        with self.db.read() as s:
            d = find_version(s, key, version)
            latest = self.engine.specs.latest(s, key)
            running, total = self._case_counts(s, d.id).get(d.id, (0, 0))
            _, subs = self.engine.specs.of(d)
            tasks = self.engine.specs.user_tasks(d)
            return {"key": d.key, "name": d.name, "version": d.version, "latest": d.version == latest.version,
                    "latest_version": latest.version, "content_hash": d.content_hash,
                    "start_message": d.start_message, "deployed_by": d.deployed_by, "deployed_at": d.deployed_at,
                    "note": d.note, "open_cases": running, "cases": total, "subprocesses": sorted(subs),
                    "user_tasks": tasks,
                    "files": [{"name": n, "kind": file_kind(n), "size": len(t.encode("utf-8")),
                               "sha256": hashlib.sha256(t.encode("utf-8")).hexdigest()}
                              for n, t in sorted(d.files.items())]}

    def file(self, key: str, version: int, name: str) -> str:
        with self.db.read() as s:
            d = find_version(s, key, version)
            if name not in d.files:
                raise NotFound(f"{key} v{version} has no file '{name}'", file=name)
            return d.files[name]

    def bundle_zip(self, key: str, version: int) -> bytes:
        """Every file of a version as a zip: upload it again to roll back to this version."""
        with self.db.read() as s:
            d = find_version(s, key, version)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for name, text in sorted(d.files.items()):
                    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    z.writestr(info, text.encode("utf-8"))
            return buf.getvalue()

    def diff(self, key: str, from_version: int, to_version: int) -> dict:
        """What changed between two versions: per process (and called/embedded sub-process) the BPMN
        elements added, removed and changed (with the changed attributes), and the files."""
        with self.db.read() as s:
            a, b = find_version(s, key, from_version), find_version(s, key, to_version)
            a_files, b_files = dict(a.files), dict(b.files)
        processes = diff_specs(self.engine, a, b)
        files = {"added": sorted(set(b_files) - set(a_files)), "removed": sorted(set(a_files) - set(b_files)),
                 "changed": sorted(n for n in set(a_files) & set(b_files) if a_files[n] != b_files[n])}
        summary = {k: sum(len(p[k]) for p in processes) for k in ("added", "removed", "changed")}
        return {"key": key, "from_version": from_version, "to_version": to_version, "summary": summary,
                "processes": processes,
                "files": files}


    def _case_counts(self, s, definition_id: int | None = None) -> dict[int, tuple[int, int]]:
        stmt = sa.select(Case.definition_id, Case.status, sa.func.count(Case.id)).group_by(Case.definition_id,
                                                                                           Case.status)
        if definition_id is not None:
            stmt = stmt.where(Case.definition_id == definition_id)
        counts: dict[int, list[int]] = {}
        for def_id, status, n in s.execute(stmt):
            c = counts.setdefault(def_id, [0, 0])
            c[1] += n
            if status == "running":
                c[0] += n
        return {k: (v[0], v[1]) for k, v in counts.items()}
