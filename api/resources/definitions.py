"""Process definitions: immutable versions, validation, deployment, downloads and differences.

Reading is open to every signed-in user; deploying is for quality managers (``engine.cases.deployment``). An upload
is ``multipart/form-data`` with one or more files in the field ``files`` (``.bpmn``, ``.dmn``, ``.json``, or a
``.zip`` of them, e.g. a downloaded version) and a change ``note``; a JSON body ``{"files": {name: text},
"note": …}`` is accepted too. Files not in the upload are taken from the latest deployed versions.
"""
from __future__ import annotations

from flask import Response, current_app, request
from flask_smorest import Blueprint

from engine.definitions.bundles import bundle_from_uploads, media_type
from engine.cases.deployment import Deployment
from engine.errors import InvalidFormData
from engine.vocabulary import QUALITY_MANAGER, vocabulary

from ..auth import current_actor, require_role, services
from ..schemas import (
    DefinitionDetailSchema,
    DeployResultSchema,
    DiffQuerySchema,
    DiffSchema,
    ProcessOverviewSchema,
    ValidationReportSchema,
    VocabularySchema,
)
from .audit import content_disposition

blp = Blueprint("definitions", __name__, url_prefix="/api/process-definitions", description="Process definitions")

_UPLOAD_DOC = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"},
                  "description": ".bpmn, .dmn, .json files or a .zip of them"},
        "note": {"type": "string", "description": "the change note (required to deploy)"}}}},
    "application/json": {"schema": {"type": "object", "required": ["files"], "properties": {
        "files": {"type": "object", "additionalProperties": {"type": "string"},
                  "description": "{file name: text}"},
        "note": {"type": "string"}}}}}}}


def _deployment() -> Deployment:
    return Deployment(services().engine)


def _upload() -> tuple[dict[str, str], str | None]:
    """The bundle and the note from a multipart or JSON request."""
    limit = current_app.config.get("MAX_UPLOAD_BYTES", 20_000_000)
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("files"), dict):
            raise InvalidFormData("send {\"files\": {name: text}, \"note\": …}",
                                  [{"field": "/files", "message": "an object of file name to text is required"}])
        note = body.get("note")
        if note is not None and not isinstance(note, str):
            raise InvalidFormData("the note is text", [{"field": "/note", "message": "must be a string"}])
        # each value must be a file's text (no archive: its bytes come as multipart), checked and named per file
        return bundle_from_uploads(list(body["files"].items()), limit, by_name=True), note
    if not request.mimetype.startswith("multipart/form-data"):
        raise InvalidFormData("send the files as multipart/form-data in the field 'files'",
                              [{"field": "/files", "message": f"content type was {request.mimetype or 'missing'}"}])
    uploads = [(f.filename or "", f.read()) for f in request.files.getlist("files")]
    return bundle_from_uploads(uploads, limit), request.form.get("note")


@blp.get("")
@blp.response(200, ProcessOverviewSchema(many=True))
def list_definitions():
    """Every process: its versions (who deployed them, when, why), which is the latest (new cases start on
    it) and how many open cases run on each."""
    current_actor()
    return _deployment().overview()


@blp.post("")
@require_role(QUALITY_MANAGER)
@blp.doc(**_UPLOAD_DOC)
@blp.response(201, DeployResultSchema)
@blp.alt_response(200, schema=DeployResultSchema, description="nothing changed: no new version")
@blp.alt_response(422, description="the validation report: errors[] with file, element_id, line, message")
def deploy():
    """Deploy a bundle (quality managers). Every process whose content changed becomes a new immutable
    version; running cases stay on theirs. A bundle with any error is refused (422) with every error."""
    files, note = _upload()
    if not (note or "").strip():
        raise InvalidFormData("a change note is required", [{"field": "/note", "message": "is required"}])
    actor = current_actor()
    report = _deployment().deploy(files, actor, note.strip())
    report.update(note=note.strip(), deployed_by=actor.username)
    return report, 201 if any(d["created"] for d in report["deploy"]) else 200


@blp.post("/validate")
@blp.doc(**_UPLOAD_DOC)
@blp.response(200, ValidationReportSchema)
def validate_bundle():
    """Validate a bundle without deploying it: the same report a deployment gives (valid, errors, warnings)
    and the versions it would create."""
    current_actor()
    files, _note = _upload()
    return _deployment().validate(files)


@blp.get("/vocabulary")
@blp.response(200, VocabularySchema)
def get_vocabulary():
    """The roles and the diagram properties the engine reads (engine/vocabulary.py): for each property the
    elements it may sit on, its value format and what it does. The studio's properties panel is built from it."""
    current_actor()
    return vocabulary()


@blp.get("/<key>")
@blp.response(200, ProcessOverviewSchema)
def get_process(key):
    """One process: its versions."""
    current_actor()
    for entry in _deployment().overview():
        if entry["key"] == key:
            return entry
    from engine.errors import NotFound

    raise NotFound(f"no process '{key}' is deployed", process_key=key)


@blp.get("/<key>/versions/<int:version>")
@blp.response(200, DefinitionDetailSchema)
def get_version(key, version):
    """One version: who deployed it and why, its user tasks and its files (download each, or all as a zip)."""
    current_actor()
    return _deployment().version(key, version)


@blp.get("/<key>/versions/<int:version>/files/<name>")
@blp.response(200, description="the file exactly as deployed")
def download_file(key, version, name):
    """A BPMN, DMN or form file of a version, as stored."""
    current_actor()
    text = _deployment().file(key, version, name)
    response = Response(text.encode("utf-8"), mimetype=media_type(name))
    response.headers["Content-Disposition"] = content_disposition(name)  # RFC 6266: any script
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.get("/<key>/versions/<int:version>/bundle.zip")
@blp.response(200, description="every file of the version in a zip (upload it again to roll back)")
def download_bundle(key, version):
    """All files of a version as a zip: deploying it again makes this content the latest version."""
    current_actor()
    data = _deployment().bundle_zip(key, version)
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = content_disposition(f"{key}-v{version}.zip")
    return response


@blp.get("/<key>/diff")
@blp.arguments(DiffQuerySchema, location="query")
@blp.response(200, DiffSchema)
def diff(args, key):
    """What changed between two versions: elements added, removed and changed (with the attributes), per
    process and sub-process, and the files."""
    current_actor()
    return _deployment().diff(key, args["from_version"], args["to_version"])
