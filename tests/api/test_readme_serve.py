"""The README's first command, run as written (`accredit demo && accredit serve`) in a fresh working directory,
then real HTTP: a laboratory uploads a document and downloads it back. Every configured path is relative to the
working directory here (the defaults), which is what made downloads answer 500 before paths were made absolute."""
from __future__ import annotations

import http.cookiejar
import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.servers import free_port, wait_for_output

REPO = Path(__file__).resolve().parents[2]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("accredit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def _multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.fixture
def served(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCREDIT_") and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(REPO)  # this checkout's engine/api, not an installed copy
    subprocess.run(_command() + ["demo"], cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    proc = subprocess.Popen(_command() + ["serve", "--port", str(port), "--no-scheduler"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_output(proc, b"Running on http://127.0.0.1:")  # start-up deploys the library; then it binds
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_upload_then_download_with_the_readme_defaults(served, tmp_path):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def call(method, path, body=None, content_type="application/json"):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {"Origin": served}  # as a browser sends it (cross-site writes are refused)
        if data is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(served + path, data=data, method=method, headers=headers)
        with opener.open(req, timeout=30) as r:
            return r.status, r.headers, r.read()

    call("POST", "/api/session", {"username": "applicant", "password": "demo-password"})
    status, _, body = call("POST", "/api/cases", {"process": "accreditation"})
    assert status == 201
    case_id = json.loads(body)["id"]
    document = b"%PDF-1.4 quality manual\n" + os.urandom(64)
    payload, ctype = _multipart("qms-manual.pdf", document)
    status, _, body = call("POST", f"/api/cases/{case_id}/attachments", payload, ctype)
    assert status == 201
    sha = json.loads(body)["sha256"]

    status, headers, got = call("GET", f"/api/cases/{case_id}/attachments/{sha}")
    assert status == 200 and got == document
    assert "qms-manual.pdf" in headers["Content-Disposition"]
    assert (tmp_path / "var").is_dir()  # the defaults live under the working directory the README starts in
