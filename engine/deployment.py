"""Versioned deployment of the process library, and migration of running cases between versions.

Deploying
    An upload (``{file name: text}``) may be *partial*: the files it does not contain are taken from the
    latest deployed versions — the other files of the processes it carries (forms, DMN), the processes its
    call activities name, and every deployed process that uses one of the uploaded files or calls a process
    the upload redefines. Those *dependent* processes are redeployed too (a new ``inspection.bpmn`` makes a new
    ``accreditation`` version, whose stored spec embeds the inspection it calls). The completed bundle is
    validated as a whole (:func:`engine.library.load_library`): every error at once, each with file, element
    and line. A process whose content hash equals its latest version is not a new version. Deploying the
    files of an old version again makes them the latest (a roll back is a new version, history is kept).

    The shipped library (``processes/`` + ``forms/``) is deployed on start-up by :meth:`deploy_shipped`, which
    skips content that any earlier version already had: a restart never undoes a quality manager's deployment.

Migrating
    A running case moves to another version of its process in one transaction (load → SpiffWorkflow
    ``diff_workflow``/``migrate_workflow`` → engine steps → save with the new ``definition_id``, rewriting the
    inbox, timer and message indexes → history event ``case.migrated``). A case cannot move — and is left
    untouched — when a task it is waiting at (ready, waiting, running) or an element it has already passed
    does not exist in the target version, when a sub-process it runs is gone, or when the engine steps fail.
    A dry run is the same migration, rolled back: it reports exactly what would happen.

    Differences to SpiffWorkflow's stock ``migrate_workflow``: a reset task keeps its own data (a
    multi-instance child keeps its item, e.g. the ``inspector`` it is assigned to), and a waiting timer whose
    definition did not change keeps its due time (a 30-day deadline does not restart at migration).

Only a quality manager deploys and migrates (administrators run the system, they do not own its processes).
"""
from __future__ import annotations

import functools
import hashlib
import io
import zipfile
import zlib
from copy import deepcopy
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from sqlalchemy import orm
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import SpecDiff, diff_workflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import history
from .actors import SYSTEM, Actor
from .errors import Conflict, DefinitionInvalid, EngineError, Forbidden, InvalidFormData, NotFound, ProcessError
from .library import Library, load_library, read_directories
from .models import Case, ProcessDefinition, utcnow
from .sandbox import SandboxViolation, ScriptTimeout
from .operation import Operation, process_error
from .services import Engine
from .workflow_state import all_tasks, properties, ready_human_tasks

#: who may deploy process versions and migrate cases
DEPLOY_ROLE = "quality_manager"
BUNDLE_SUFFIXES = (".bpmn", ".dmn", ".json")
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
#: what the stock migrate_workflow resets and re-predicts
_RESET = TaskState.READY | TaskState.WAITING
_SKIP_ATTRIBUTES = {"inputs", "outputs"}  # flows: reported separately as 'flows'


class BundleInvalid(DefinitionInvalid):
    """The upload, completed from the deployed library, failed validation. The problem document carries the
    report: ``errors`` (file, element_id, line, message) and ``warnings``."""

    def __init__(self, report: dict):
        EngineError.__init__(self, f"the bundle has {len(report['errors'])} error(s); nothing was deployed",
                             valid=False, errors=report["errors"], warnings=report["warnings"],
                             supplemented=report["supplemented"])
        self.problems = report["errors"]
        self.report = report


class _Rollback(Exception):
    """Leave a write transaction without committing (dry runs, cases that cannot move)."""

    def __init__(self, result: dict):
        super().__init__("rollback")
        self.result = result


def require_quality_manager(actor: Actor, what: str) -> None:
    if not actor.has_role(DEPLOY_ROLE):
        raise Forbidden(f"only a quality manager may {what}", role=DEPLOY_ROLE)


# -- reading uploads -----------------------------------------------------------------------------------

def bundle_from_uploads(uploads: list[tuple[str, bytes]], max_bytes: int = 20_000_000) -> dict[str, str]:
    """Turn uploaded files into a bundle. A ``.zip`` (e.g. a downloaded version) is unpacked. Every problem
    is reported at once, one entry per file."""
    files: dict[str, str] = {}
    errors: list[dict] = []
    total = 0

    def add(name: str, data: bytes, field: str) -> None:
        nonlocal total
        base = PurePosixPath(name.replace("\\", "/")).name
        if not base or not base.endswith(BUNDLE_SUFFIXES):
            errors.append({"field": field, "message": f"'{name}' is not a .bpmn, .dmn or .json file"})
            return
        total += len(data)
        if total > max_bytes:
            errors.append({"field": field, "message": f"the bundle is larger than {max_bytes} bytes"})
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            errors.append({"field": field, "message": f"'{base}' is not UTF-8 text (byte {exc.start})"})
            return
        if base in files:
            errors.append({"field": field, "message": f"'{base}' is in the upload twice"})
            return
        files[base] = text

    for i, (name, data) in enumerate(uploads):
        field = f"/files/{i}"
        if (name or "").lower().endswith(".zip"):
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as z:
                    members = [i for i in z.infolist()
                               if not i.is_dir() and not PurePosixPath(i.filename).name.startswith(".")]
                    if len(members) > MAX_ARCHIVE_MEMBERS:
                        errors.append({"field": field, "message": f"'{name}' holds {len(members)} files; a bundle "
                                                                  f"has at most {MAX_ARCHIVE_MEMBERS}"})
                        continue
                    for info in members:
                        # the sizes an archive declares are not trusted: read what it actually produces, and
                        # stop one byte past what the bundle may still hold (a 1 MB archive lying about a 2.5 GB
                        # member costs at most the limit)
                        content = _read_bounded(z, info, max_bytes - total)
                        if content is None:
                            errors.append({"field": field, "message": f"the bundle is larger than {max_bytes} bytes"})
                            break
                        add(info.filename, content, f"{field}/{info.filename}")
            except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, RuntimeError,
                    ValueError, OSError, zlib.error) as exc:
                errors.append({"field": field, "message": f"'{name}' is not a zip archive this server can read "
                                                          f"({exc.__class__.__name__})"})
            continue
        add(name or "", data, field)
    if not files and not errors:
        errors.append({"field": "/files", "message": "upload at least one .bpmn, .dmn or .json file"})
    if errors:
        raise InvalidFormData("the upload is not a process bundle", errors)
    return files


#: a bundle is a few diagrams and forms; an archive of thousands of entries is refused before any is read
MAX_ARCHIVE_MEMBERS = 500


def _read_bounded(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """The member's content as actually decompressed, or None once it exceeds ``limit`` bytes."""
    chunks, size = [], 0
    with z.open(info) as f:
        while True:
            chunk = f.read(64 * 1024)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)


@functools.lru_cache(maxsize=256)
def _bpmn_ids(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(process ids defined, process ids called) by a BPMN text; empty for text that does not parse."""
    try:
        root = etree.fromstring(text.encode("utf-8"))
    except etree.XMLSyntaxError:
        return frozenset(), frozenset()
    defined = frozenset(p.get("id") for p in root.iter(f"{_BPMN}process") if p.get("id"))
    called = frozenset(c.get("calledElement") for c in root.iter(f"{_BPMN}callActivity") if c.get("calledElement"))
    return defined, called


def _file_kind(name: str) -> str:
    if name.endswith(".bpmn"):
        return "bpmn"
    if name.endswith(".dmn"):
        return "dmn"
    return "ui_schema" if name.endswith(".uischema.json") else "form"


def media_type(name: str) -> str:
    return "application/json" if name.endswith(".json") else "application/xml"


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
            lib, targets, supplemented = self._plan(s, files)
            report = self._report(lib, supplemented)
            report["deploy"] = [self._version_plan(s, lib, key, reason) for key, reason in sorted(targets.items())
                                if key in lib.processes] if lib.ok else []
        return report

    def deploy(self, files: dict[str, str], actor: Actor, note: str | None) -> dict:
        """Deploy an upload (completed from the deployed library). Raises :class:`BundleInvalid` with the whole
        report if anything is wrong; nothing is deployed then."""
        require_quality_manager(actor, "deploy process versions")
        with self.db.write() as s:
            lib, targets, supplemented = self._plan(s, files)
            report = self._report(lib, supplemented)
            if not lib.ok:
                raise BundleInvalid(report)
            report["deploy"] = self._write_versions(s, lib, targets, actor.username, note, unchanged="latest")
        return report

    def deploy_shipped(self, processes_dir: str | Path, forms_dir: str | Path) -> dict:
        """Deploy the shipped library on start-up: a process becomes a new version only if no earlier
        version had this content (a restart must not undo what a quality manager deployed)."""
        lib = load_library(read_directories(processes_dir, forms_dir))
        if not lib.ok:
            raise DefinitionInvalid(f"the shipped library has {len(lib.errors)} error(s)", lib.errors,
                                    warnings=[p.to_dict() for p in lib.warnings])
        with self.db.write() as s:
            deployed = self._write_versions(s, lib, {k: "shipped library" for k in lib.processes},
                                            SYSTEM.username, "shipped library", unchanged="any")
        return {**lib.report(), "deploy": deployed}

    def _plan(self, s, uploaded: dict[str, str]) -> tuple[Library, dict[str, str], dict[str, str]]:
        """Complete the upload from the latest deployed versions and validate it.

        Returns the library, the processes to deploy ({key: reason}) and {file: 'key vN'} for every file
        taken from a deployed version."""
        latest = self._latest_all(s)
        bundle, supplemented = dict(uploaded), {}
        up_defined: set[str] = set()
        for name, text in uploaded.items():
            if name.endswith(".bpmn"):
                up_defined |= _bpmn_ids(text)[0]
        targets = {key: "uploaded" for key in up_defined}
        pulled: set[str] = set()
        changed = True
        while changed:
            changed = False
            defined, called = set(), set()
            for name, text in bundle.items():
                if name.endswith(".bpmn"):
                    d, c = _bpmn_ids(text)
                    defined |= d
                    called |= c
            for key, d in latest.items():
                if key in pulled:
                    continue
                d_defined, d_called = set(), set()
                for name, text in d.files.items():
                    if name.endswith(".bpmn"):
                        ids = _bpmn_ids(text)
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
                    if name.endswith(".bpmn") and _bpmn_ids(text)[0] & defined:
                        continue  # the upload (or a newer deployment) defines these processes
                    bundle[name] = text
                    supplemented[name] = f"{d.key} v{d.version}"
                    if name.endswith(".bpmn"):
                        defined |= _bpmn_ids(text)[0]
        lib = load_library(bundle, resolvable_from="in the upload or among the deployed processes")
        return lib, targets, supplemented

    def _report(self, lib: Library, supplemented: dict[str, str]) -> dict:
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

    def _write_versions(self, s, lib: Library, targets: dict[str, str], deployed_by: str, note: str | None,
                        unchanged: str) -> list[dict]:
        out = []
        for key, reason in sorted(targets.items()):
            pv = lib.processes.get(key)
            if pv is None:
                continue
            latest = self.engine.specs.latest(s, key)
            if unchanged == "any":
                same = s.scalar(sa.select(ProcessDefinition.version).where(
                    ProcessDefinition.key == key, ProcessDefinition.content_hash == pv.content_hash)
                    .order_by(ProcessDefinition.version.desc()).limit(1))
            else:
                same = latest.version if latest is not None and latest.content_hash == pv.content_hash else None
            entry = {"key": key, "previous_version": latest.version if latest else None,
                     "content_hash": pv.content_hash, "reason": reason}
            if same is not None:
                out.append({**entry, "version": same, "created": False})
                continue
            version = (latest.version + 1) if latest else 1
            s.add(ProcessDefinition(
                key=key, name=pv.name, version=version, content_hash=pv.content_hash, files=pv.files,
                spec=self.engine.serializer.dump_specs(pv.spec, pv.subprocess_specs), start_message=pv.start_message,
                deployed_by=deployed_by, deployed_at=utcnow(), note=note))
            s.flush()
            history.record_system(s, deployed_by, "definition.deployed",
                                  {"key": key, "version": version, "content_hash": pv.content_hash, "note": note,
                                   "reason": reason, "files": sorted(pv.files)})
            out.append({**entry, "version": version, "created": True})
        return out

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
            d = self._definition(s, key, version)
            latest = self.engine.specs.latest(s, key)
            running, total = self._case_counts(s, d.id).get(d.id, (0, 0))
            spec, subs = self.engine.specs.of(d)
            tasks = [_element(t, sp.name) for sp in [spec, *subs.values()] for t in sp.task_specs.values()
                     if getattr(t, "manual", False)]
            return {"key": d.key, "name": d.name, "version": d.version, "latest": d.version == latest.version,
                    "latest_version": latest.version, "content_hash": d.content_hash,
                    "start_message": d.start_message, "deployed_by": d.deployed_by, "deployed_at": d.deployed_at,
                    "note": d.note, "open_cases": running, "cases": total, "subprocesses": sorted(subs),
                    "user_tasks": tasks,
                    "files": [{"name": n, "kind": _file_kind(n), "size": len(t.encode("utf-8")),
                               "sha256": hashlib.sha256(t.encode("utf-8")).hexdigest()}
                              for n, t in sorted(d.files.items())]}

    def file(self, key: str, version: int, name: str) -> str:
        with self.db.read() as s:
            d = self._definition(s, key, version)
            if name not in d.files:
                raise NotFound(f"{key} v{version} has no file '{name}'", file=name)
            return d.files[name]

    def bundle_zip(self, key: str, version: int) -> bytes:
        """Every file of a version as a zip: upload it again to roll back to this version."""
        with self.db.read() as s:
            d = self._definition(s, key, version)
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
            a, b = self._definition(s, key, from_version), self._definition(s, key, to_version)
            a_files, b_files = dict(a.files), dict(b.files)
        processes = self.diff_specs(a, b)
        files = {"added": sorted(set(b_files) - set(a_files)), "removed": sorted(set(a_files) - set(b_files)),
                 "changed": sorted(n for n in set(a_files) & set(b_files) if a_files[n] != b_files[n])}
        summary = {k: sum(len(p[k]) for p in processes) for k in ("added", "removed", "changed")}
        return {"key": key, "from_version": from_version, "to_version": to_version, "summary": summary,
                "processes": processes,
                "files": files}

    def diff_specs(self, a: ProcessDefinition, b: ProcessDefinition) -> list[dict]:
        (spec_a, subs_a), (spec_b, subs_b) = self.engine.specs.of(a), self.engine.specs.of(b)
        pairs = [(a.key, spec_a, spec_b)] + [(n, subs_a.get(n), subs_b.get(n))
                                             for n in sorted(set(subs_a) | set(subs_b))]
        return [self._spec_diff(name, old, new) for name, old, new in pairs]

    def _spec_diff(self, name, old, new) -> dict:
        if old is None or new is None:
            present = old or new
            elements = [_element(t) for t in present.task_specs.values() if _visible(t)]
            return {"process": name, "status": "added" if old is None else "removed",
                    "added": elements if old is None else [], "removed": elements if new is None else [],
                    "changed": []}
        sd = SpecDiff(self.engine.serializer.registry, old, new)
        changed = []
        for ts, attrs in sd.changed.items():
            if not _visible(ts):
                continue
            aligned = sd.alignment.get(ts) or ts
            changed.append({**_element(aligned), **({"was": ts.bpmn_id} if aligned.bpmn_id != ts.bpmn_id else {}),
                            "changes": _changes(attrs)})
        return {"process": name, "status": "changed" if (sd.added or sd.removed or changed) else "unchanged",
                "added": [_element(t) for t in sd.added if _visible(t)],
                "removed": [_element(t) for t in sd.removed if _visible(t)],
                "changed": sorted(changed, key=lambda e: e["element_id"])}

    def _definition(self, s, key: str, version: int) -> ProcessDefinition:
        d = s.scalar(sa.select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                        ProcessDefinition.version == version))
        if d is None:
            raise NotFound(f"process '{key}' has no version {version}", process_key=key, version=version)
        return d

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

    # ---------------------------------------------------------------- migrating
    def migrate_case(self, case_id: str, actor: Actor, to_version: int | None = None, dry_run: bool = False) -> dict:
        """Move one running case to ``to_version`` (default: the latest) of its process, or report (dry run)
        what would happen. Returns the per-case report; ``migrated`` says whether it moved."""
        require_quality_manager(actor, "migrate cases")
        try:
            with self.db.write() as s:
                result = self._migrate(s, case_id, actor, to_version)
                if dry_run or not result["can_migrate"]:
                    raise _Rollback(result)
        except _Rollback as rb:
            return rb.result
        result["migrated"] = True
        changed = getattr(self.engine, "_timers_changed", None)  # wake the embedded scheduler, if there is one
        if changed is not None:
            changed()
        return result

    def migrate_version(self, key: str, version: int, actor: Actor, to_version: int | None = None,
                        dry_run: bool = False) -> dict:
        """Every open case of ``key`` v``version``, each in its own transaction: those that can move do (or
        would, in a dry run), the others are listed with the reasons and left untouched."""
        require_quality_manager(actor, "migrate cases")
        with self.db.read() as s:
            source = self._definition(s, key, version)
            target = self._definition(s, key, to_version) if to_version is not None else \
                self.engine.specs.latest(s, key)
            ids = list(s.scalars(sa.select(Case.id).where(Case.definition_id == source.id, Case.status == "running")
                                 .order_by(Case.created_at, Case.id)))
        cases = []
        for case_id in ids:
            try:
                cases.append(self.migrate_case(case_id, actor, target.version, dry_run))
            except EngineError as exc:  # e.g. the case was changed meanwhile: report it, go on with the others
                cases.append({"case_id": case_id, "process_key": key, "from_version": version,
                              "to_version": target.version, "can_migrate": False, "migrated": False,
                              "reasons": [exc.message]})
        return {"key": key, "from_version": version, "to_version": target.version, "dry_run": dry_run,
                "total": len(cases), "can_migrate": sum(c["can_migrate"] for c in cases),
                "migrated": sum(c["migrated"] for c in cases),
                "blocked": sum(not c["can_migrate"] for c in cases), "cases": cases}

    def _migrate(self, s, case_id: str, actor: Actor, to_version: int | None) -> dict:
        ops = Operation(self.engine, s, actor)
        loaded = ops.load(case_id)
        row, source = loaded.row, loaded.definition
        target = self._definition(s, row.process_key, to_version) if to_version is not None else \
            self.engine.specs.latest(s, row.process_key)
        result = {"case_id": row.id, "business_key": row.business_key, "organisation_id": row.organisation_id,
                  "process_key": row.process_key, "from_version": source.version, "to_version": target.version,
                  "can_migrate": False, "migrated": False, "reasons": [],
                  "ready_tasks_before": [_task(t) for t in ready_human_tasks(loaded.wf)]}
        reasons = result["reasons"]
        if row.status != "running":
            reasons.append(f"the case has ended ({row.status}); only open cases are migrated")
            return result
        if target.id == source.id:
            reasons.append(f"the case already runs version {target.version}")
            return result
        changes = self._element_changes(source, target)
        result.update(added_tasks=changes["added"], removed_tasks=changes["removed"], changed_tasks=changes["changed"])

        wf = loaded.wf
        new_spec, new_subs = self.engine.specs.of(target)
        try:
            top, sp_diffs = diff_workflow(self.engine.serializer.registry, wf, new_spec, new_subs)
        except (KeyError, AttributeError) as exc:  # an element the comparison cannot place
            reasons.append(f"the versions cannot be compared for this case ({exc!r})")
            return result
        v = f"version {target.version}"
        pairs = [(wf, top, new_spec)]
        for sp_id, sub in wf.subprocesses.items():
            diff = sp_diffs.get(sp_id)
            if diff is None:
                state = "is running" if any(t.state & _LIVE for t in sub.tasks.values()) else "was run"
                reasons.append(f"the sub-process '{sub.spec.name}' {state} in this case but is not part of {v}")
                continue
            pairs.append((sub, diff, new_subs[sub.spec.name]))
        changed_live = []
        for _workflow, diff, _spec in pairs:
            for t in diff.removed:
                if _visible(t.task_spec) and t.state & _LIVE:
                    reasons.append(f"{_label(t.task_spec)} is {_state(t)} in this case but does not exist in {v}")
            changed_live += [t for t in diff.changed if _visible(t.task_spec) and t.state & _LIVE]
        if reasons:
            return result
        attrs = {(c["process"], c["element_id"]): c["changes"] for c in changes["changed"]}
        affected = [{**_task(t), "state": _state(t), "changes": attrs.get((t.workflow.spec.name,
                                                                           t.task_spec.bpmn_id), [])}
                    for t in changed_live]

        # migrate: realign specs, reset and re-predict what waits; keep task data and unchanged timers' due times
        timers = {t.id: (t.task_spec, deepcopy(t.internal_data)) for t in all_tasks(wf)
                  if t.state == TaskState.WAITING and isinstance(getattr(t.task_spec, "event_definition", None),
                                                                   TimerEventDefinition)}
        try:
            for workflow, diff, spec in pairs:
                _migrate_workflow(diff, workflow, spec)  # re-predicting may run pre-scripts of the new version
        except (SpiffWorkflowException, SandboxViolation, ScriptTimeout, KeyError) as exc:
            error = process_error(exc, row.id) if isinstance(exc, SpiffWorkflowException) else None
            reasons.append(f"the case fails on {v}: {error.message if error else exc}"
                           + (f" (element {error.details['element_id']})" if error and error.details.get("element_id")
                              else ""))
            return result
        wf.subprocess_specs = dict(new_subs)
        restarted = []
        for task in all_tasks(wf):
            saved = timers.get(task.id)
            if saved is None or task.state != TaskState.WAITING:
                continue
            old_spec, internal = saved
            if _same_timer(old_spec, task.task_spec) and "event_value" in internal:
                task.internal_data["event_value"] = internal["event_value"]
            else:
                restarted.append(_label(task.task_spec))
        orphans = [t for t in all_tasks(wf) if not _spec_of(t)]
        for t in orphans:
            if not _visible(t.task_spec):
                continue
            if t.state & TaskState.FINISHED_MASK:
                reasons.append(f"{_label(t.task_spec)} was {_state(t)} in this case but does not exist in {v} "
                               "(the case's state refers to it)")
            else:
                reasons.append(f"{_label(t.task_spec)} is {_state(t)} in this case but does not exist in {v}")
        if orphans and not reasons:
            reasons.append(f"the case holds engine tasks that do not exist in {v}")
        if reasons:
            return result

        row.definition_id = target.id
        row.definition = target
        loaded.definition = target
        history.record(s, loaded, actor, "case.migrated", role=DEPLOY_ROLE, data={
            "process_key": row.process_key, "from_version": source.version, "to_version": target.version,
            "from_content_hash": source.content_hash, "to_content_hash": target.content_hash,
            "affected_tasks": [a["element_id"] for a in affected], "timers_restarted": restarted})
        try:
            ops.run(loaded, lambda: None)
            ops.finish()
            self._refresh_inbox(s, ops, loaded)
        except ProcessError as exc:
            where = f" (element {exc.details['element_id']})" if exc.details.get("element_id") else ""
            reasons.append(f"the case fails on {v}: {exc.message}{where}")
            return result
        except Conflict as exc:
            reasons.append(exc.message)
            return result

        present = {(t.workflow.spec.name, t.task_spec.bpmn_id) for t in all_tasks(wf)
                   if _visible(t.task_spec) and not t.state & TaskState.FINISHED_MASK}
        for a in result["added_tasks"]:
            a["ahead"] = (a["process"], a["element_id"]) in present
        result.update(can_migrate=True, affected_ready_tasks=[a for a in affected if a["state"] == "ready"],
                      affected_waiting=[a for a in affected if a["state"] != "ready"], timers_restarted=restarted,
                      ready_tasks_after=[_task(t) for t in ready_human_tasks(wf)])
        return result

    def _element_changes(self, source: ProcessDefinition, target: ProcessDefinition) -> dict:
        """Elements added, removed and changed between two versions, over the process and its sub-processes."""
        out = {"added": [], "removed": [], "changed": []}
        for p in self.diff_specs(source, target):
            for kind in out:
                out[kind] += [{**e, "process": p["process"]} for e in p[kind]]
        return out

    def _refresh_inbox(self, s, ops: Operation, loaded) -> None:
        """Ready tasks that kept their id keep their inbox row: bring its name, role, form, assignee and
        priority up to the new version (a changed role also drops the claim)."""
        from .models import HumanTask

        for task in ready_human_tasks(loaded.wf):
            h = s.get(HumanTask, str(task.id))
            if h is None or h.status != "ready":
                continue
            ts, props = task.task_spec, properties(task.task_spec)
            if h.role != ts.lane:
                h.claimed_by = None
            h.name, h.role = ts.bpmn_name, ts.lane
            h.form, h.ui_form = props.get("formJsonSchemaFilename"), props.get("formUiSchemaFilename")
            h.signature_meaning = props.get("signatureMeaning")
            h.priority = int(props.get("priority", 0) or 0)
            h.assignee = ops._assignee(loaded, task, props)
        s.flush()


# -- helpers -----------------------------------------------------------------------------------------------

def _migrate_workflow(diff, workflow, spec) -> list:
    """SpiffWorkflow's ``bpmn.util.diff.migrate_workflow``, except that a reset task keeps its own data (the
    stock one copies its parent's, which loses a multi-instance child's item)."""
    workflow.spec = spec
    for task in workflow.tasks.values():
        if diff.alignment.get(task) is not None:
            task.task_spec = diff.alignment.get(task)
    removed = []
    for task in list(workflow.get_tasks(state=_RESET, skip_subprocesses=True)):
        if task.id in workflow.tasks:
            removed.extend(task.reset_branch(deepcopy(task.data)))
    if workflow.last_task not in workflow.tasks:
        workflow.last_task = None
    return removed


def _spec_of(task) -> bool:
    """Does the task's spec belong to its workflow's (new) spec?"""
    return task.workflow.spec.task_specs.get(task.task_spec.name) is task.task_spec


def _same_timer(old, new) -> bool:
    a, b = getattr(old, "event_definition", None), getattr(new, "event_definition", None)
    return type(a) is type(b) and getattr(a, "expression", None) == getattr(b, "expression", None)


def _visible(spec) -> bool:
    return getattr(spec, "bpmn_id", None) is not None


def _label(spec) -> str:
    return f"'{spec.bpmn_name}' ({spec.bpmn_id})" if spec.bpmn_name else f"'{spec.bpmn_id}'"


def _state(task) -> str:
    return TaskState.get_name(task.state).lower()


def _element(spec, process: str | None = None) -> dict:
    out = {"element_id": spec.bpmn_id, "name": spec.bpmn_name, "type": type(spec).__name__,
           "lane": getattr(spec, "lane", None)}
    if process is not None:
        out["process"] = process
    form = properties(spec).get("formJsonSchemaFilename")
    if form:
        out["form"] = form
    return out


def _task(task) -> dict:
    return {"task_id": str(task.id), "element_id": task.task_spec.bpmn_id, "name": task.task_spec.bpmn_name,
            "process": task.workflow.spec.name}


def _changes(attrs) -> list[str]:
    out = sorted(a for a in attrs if a not in _SKIP_ATTRIBUTES)
    if set(attrs) & _SKIP_ATTRIBUTES:
        out.append("flows")
    return out
