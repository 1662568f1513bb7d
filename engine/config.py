"""Where the shipped process library lives (overridable by environment)."""
from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def processes_dir() -> Path:
    return Path(os.environ.get("ACCREDIT_PROCESSES_DIR", _REPO / "processes"))


def forms_dir() -> Path:
    return Path(os.environ.get("ACCREDIT_FORMS_DIR", _REPO / "forms"))
