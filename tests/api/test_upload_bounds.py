"""Uploads and bundles (issue 11, item 5): decompression bounded by the bytes actually produced, never by the
sizes an archive declares; empty files refused; a per-case quota."""
from __future__ import annotations

import io
import struct
import tracemalloc
import zipfile

import pytest

from engine.definitions.bundles import bundle_from_uploads
from engine.errors import InvalidFormData

from .conftest import PDF, assert_problem, fields_of
from .test_definitions_api import deploy


def _lying_zip(real_size: int, declared: int) -> bytes:
    """A deflated member of ``real_size`` zero bytes whose headers claim ``declared`` bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("huge.bpmn", "w", force_zip64=False) as f:
            chunk = b"\0" * (1 << 20)
            for _ in range(real_size >> 20):
                f.write(chunk)
    data = bytearray(buf.getvalue())
    local = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, declared)
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


@pytest.mark.parametrize("declared", [10, 0, 19_000_000])
def test_a_lying_archive_is_refused_with_bounded_memory(declared):
    archive = _lying_zip(200 << 20, declared)  # 200 MiB of zeros in a ~200 KB archive
    assert len(archive) < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(InvalidFormData) as err:
            bundle_from_uploads([("bundle.zip", archive)], max_bytes=20_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.errors and err.value.errors[0]["field"].startswith("/files/0")
    assert peak < 60_000_000, peak  # at most the bundle limit (plus buffers), never the 200 MiB it unpacks to


def test_a_lying_archive_over_http_is_a_422(api):
    r = deploy(api, {"bundle.zip": _lying_zip(64 << 20, 10)})
    body = assert_problem(r, 422)
    assert any(f.startswith("/files/0") for f in fields_of(body))


def test_an_empty_file_is_refused(api):
    case = api.start("applicant_a")
    r = api.client("applicant_a").post(f"/api/cases/{case['id']}/attachments", data={
        "file": (io.BytesIO(b""), "empty.pdf", "application/pdf")}, content_type="multipart/form-data")
    assert fields_of(assert_problem(r, 422)) == {"/file"}


def test_a_case_has_an_upload_quota(make_api):
    api = make_api("quota", CASE_QUOTA_BYTES=len(PDF) * 2 + 10)
    case = api.start("applicant_a")
    client = api.client("applicant_a")

    def upload(extra: bytes):
        return client.post(f"/api/cases/{case['id']}/attachments", data={
            "file": (io.BytesIO(PDF + extra), "sop.pdf", "application/pdf")}, content_type="multipart/form-data")

    assert upload(b"1").status_code == 201
    assert upload(b"1").status_code == 201  # the same content again takes no more room
    assert upload(b"2").status_code == 201
    body = assert_problem(upload(b"3"), 413)
    assert "quota" in body["detail"]
