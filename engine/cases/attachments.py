"""Files attached to cases: what is accepted (type by its first bytes, size), and where the bytes live.

A file is stored once per content, under its SHA-256 (``ab/cd/abcd…``), written to a temporary file and
renamed into place; the database holds one :class:`~engine.storage.models.Attachment` row per case and content.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.definitions.bundles import CONTROL_CHARACTERS, control_character, shown_name
from engine.errors import InvalidFormData, TooLarge
from engine.storage.models import Attachment

DEFAULT_MAX_UPLOAD = 25 * 1024 * 1024
#: what all the files of one case may add up to (a laboratory's SOPs, manual, CVs, evidence over a cycle)
DEFAULT_CASE_QUOTA = 1024 * 1024 * 1024
ALLOWED_TYPES = {
    "application/pdf": b"%PDF",
    "image/png": b"\x89PNG",
    "image/jpeg": b"\xff\xd8\xff",
    "text/plain": None,
    "text/csv": None,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": b"PK",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": b"PK",
    "application/vnd.oasis.opendocument.text": b"PK",
}


@dataclass
class AttachmentView:
    sha256: str
    case_id: str
    filename: str
    content_type: str
    size: int
    uploaded_by: str
    uploaded_at: datetime

    @classmethod
    def of(cls, r: Attachment) -> AttachmentView:
        return cls(r.sha256, r.case_id, r.filename, r.content_type, r.size, r.uploaded_by, r.uploaded_at)


_NAME_MAX = Attachment.__table__.c.filename.type.length


def checked_upload(filename: str, content_type: str, data: bytes, max_upload: int) -> tuple[str, str, str]:
    """``(file name, content type, sha256)`` of an acceptable upload (base name only, type without
    parameters, content matching its type, a name without control characters); a 4xx naming ``/file``
    otherwise."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    filename = os.path.basename(filename or "").strip()
    if not filename:
        raise InvalidFormData("the file needs a name", [{"field": "/file", "message": "missing file name"}])
    control = control_character(filename)  # echoed in the download's Content-Disposition: no line break there
    if control:
        raise InvalidFormData(f"the file name '{shown_name(filename)}' holds a control character "
                              f"({control}); rename the file",
                              [{"field": "/file", "message": "file name with a control character"}])
    if len(filename) > _NAME_MAX:
        raise InvalidFormData(f"the file name is {len(filename):,} characters long; at most {_NAME_MAX}",
                              [{"field": "/file", "message": f"file name longer than {_NAME_MAX} characters"}])
    if not data:
        raise InvalidFormData(f"'{filename}' is empty", [{"field": "/file", "message": "the file has no content"}])
    if len(data) > max_upload:
        raise TooLarge(f"file is larger than the limit of {max_upload} bytes", limit=max_upload,
                       errors=[{"field": "/file", "message": "too large"}])
    if content_type not in ALLOWED_TYPES:
        raise InvalidFormData(f"files of type '{content_type}' are not accepted",
                              [{"field": "/file", "message": f"allowed: {', '.join(sorted(ALLOWED_TYPES))}"}])
    magic = ALLOWED_TYPES[content_type]
    if magic is not None and not data.startswith(magic):
        raise InvalidFormData(f"the content is not a {content_type} file",
                              [{"field": "/file", "message": "content does not match its type"}])
    return filename, content_type, hashlib.sha256(data).hexdigest()


class FileStore:
    """Content-addressed files under one directory."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def path(self, digest: str) -> Path:
        return self.directory / digest[:2] / digest[2:4] / digest

    def store(self, digest: str, data: bytes) -> None:
        path = self.path(digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def download_name(filename: str) -> str:
    """The name a stored file downloads under: its control characters (stored before uploads refused them)
    each replaced by ``_``, so the Content-Disposition header never carries a line break or an escape."""
    return _CONTROL_OR_SURROGATE.sub("_", filename) or "download"


_CONTROL_OR_SURROGATE = re.compile(f"[{CONTROL_CHARACTERS}\ud800-\udfff]")  # the names uploads refuse, and surrogates
