"""The journey workflow runs outside Temporal's sandbox (workflows/journey.py), so nothing
restricts at run time what engine/ and workflows/ call. This keeps them deterministic by
reading their source: no wall clock, randomness, environment, threads, network, files or
database — the interpreter takes time from ``workflow.now()`` and everything else from its
input and its activities' results. A module that legitimately needs one of these (none
today) must live outside both packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "workflows")

#: Modules whose import alone means I/O or nondeterminism.
FORBIDDEN_IMPORTS = {
    "random",
    "secrets",
    "socket",
    "subprocess",
    "threading",
    "multiprocessing",
    "requests",
    "httpx",
    "urllib.request",
    "sqlalchemy",
    "sqlmodel",
    "db",
    "services",
    "activities",
    "canvas_ui",
    "settings",
}
#: ``module.attr`` calls that read the clock, the environment or a random source.
FORBIDDEN_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
    ("time", "sleep"),
    ("os", "getenv"),
    ("os", "urandom"),
    ("uuid", "uuid1"),
    ("uuid", "uuid4"),
}
FORBIDDEN_NAMES = {"open", "input", "print"}
#: Findings that are fine, each with why.
ALLOWED = {
    # a lock around the content-addressed version cache: what a run reads from it is a pure
    # function of its recorded reference, whichever thread filled it
    ("workflows/journey_cache.py", "imports threading"),
}


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def problems_in(source: str) -> list[str]:
    """What in ``source`` a workflow may not do, one line per finding (``line: what``);
    imports under ``if TYPE_CHECKING:`` are only read by type checkers and do not count."""
    tree = ast.parse(source)
    typing_only: set[int] = set()
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.If) and ast.unparse(stmt.test).endswith("TYPE_CHECKING"):
            typing_only |= {id(sub) for child in stmt.body for sub in ast.walk(child)}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in typing_only:
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            found += [
                f"{node.lineno}: imports {n}"
                for n in names
                if {n, n.split(".")[0]} & FORBIDDEN_IMPORTS
            ]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_CALLS:
                found.append(f"{node.lineno}: uses {node.value.id}.{node.attr}")
            if (node.value.id, node.attr) == ("os", "environ"):
                found.append(f"{node.lineno}: reads os.environ")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in FORBIDDEN_NAMES:
                found.append(f"{node.lineno}: calls {node.func.id}()")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_workflow_code_has_no_clock_random_environment_or_io(path: Path) -> None:
    name = str(path.relative_to(ROOT))
    found = problems_in(path.read_text(encoding="utf-8"))
    assert [f for f in found if (name, f.split(": ", 1)[1]) not in ALLOWED] == []


@pytest.mark.parametrize(
    ("source", "finding"),
    [
        ("from datetime import datetime\nx = datetime.now()", "uses datetime.now"),
        ("import time\ntime.sleep(1)", "uses time.sleep"),
        ("import random", "imports random"),
        ("from sqlmodel import Session", "imports sqlmodel"),
        ("import os\nos.environ['X']", "reads os.environ"),
        ("open('f')", "calls open()"),
    ],
)
def test_the_guard_finds_what_it_forbids(source: str, finding: str) -> None:
    assert any(finding in f for f in problems_in(source))
