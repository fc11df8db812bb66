"""Layers run one way (docs/architecture.md): each package's imports, read with ``ast`` (every
import, also inside functions and ``TYPE_CHECKING`` blocks), against what it may import.

    journeys (CLI, processes) → canvas_ui → services → activities, audiences → db
                                                    ↘ workflows ───────────────→ engine
    settings: a leaf every layer may import; bench/ and tests/ sit on top, apart.
"""

import ast
import dataclasses
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {
    "activities",
    "audiences",
    "bench",
    "canvas_ui",
    "db",
    "engine",
    "journeys",
    "services",
    "settings",
    "templates_lib",
    "tests",
    "workflows",
}

#: package → the project packages it must never import.
FORBIDDEN: dict[str, set[str]] = {
    "engine": PROJECT - {"engine"},
    "settings": PROJECT - {"settings"},
    "workflows": PROJECT - {"engine", "workflows"},
    "db": PROJECT - {"db", "engine", "settings"},
    "audiences": PROJECT - {"audiences", "db", "engine", "settings"},
    "templates_lib": PROJECT - {"templates_lib", "engine"},
    "activities": {"services", "canvas_ui", "journeys", "bench", "tests"},
    "services": {"canvas_ui", "journeys", "bench", "tests"},
    "canvas_ui": {"journeys", "bench", "tests"},
    "bench": {"tests"},
}

#: package → the only third-party top-level modules it may import (others: any).
THIRD_PARTY: dict[str, set[str]] = {
    "settings": {"pydantic", "pydantic_settings"},
    # protobuf: workflows/codec.py (the payload codec, client side)
    "workflows": {"temporalio", "google"},
}

#: (file, imported package) pairs that break a rule today, each with the work that removes
#: it; drop an entry when its import is gone.
KNOWN: dict[tuple[str, str], str] = {}


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports of one file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _files(package: str) -> list[Path]:
    return [
        p
        for p in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in p.relative_to(ROOT).parts
    ]


def _violations(package: str) -> list[str]:
    allowed_third = THIRD_PARTY.get(package)
    found = []
    for path in _files(package):
        rel = path.relative_to(ROOT).as_posix()
        for name in sorted(_imports(path)):
            if name in sys.stdlib_module_names or (rel, name) in KNOWN:
                continue
            if name in FORBIDDEN.get(package, set()):
                found.append(f"{rel} imports {name}")
            elif name not in PROJECT and allowed_third is not None and name not in allowed_third:
                found.append(f"{rel} imports {name} (third-party; allowed: {allowed_third})")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    assert _files(package), f"no Python files under {package}/"
    assert _violations(package) == []


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from services.enrollment import enter\n    import tests.x\n")
    assert _imports(sample) == {"services", "tests"}


def test_contract_types_match_the_workflow_runtime() -> None:
    """``workflows.contract`` is what starters send; ``JourneyWorkflow`` is typed with
    ``workflows.runtime``'s classes until that module imports the contract's. Same fields,
    types and defaults, so a payload of one is a payload of the other."""
    from workflows import contract, runtime

    def shape(cls: type) -> list[tuple[str, str, object]]:
        return [(f.name, str(f.type), f.default) for f in dataclasses.fields(cls)]

    assert shape(contract.JourneyInput) == shape(runtime.JourneyInput)
    assert shape(contract.JourneyResult) == shape(runtime.JourneyResult)
    assert contract.workflow_id_for("j", "c") == runtime.workflow_id_for("j", "c")
    assert contract.HISTORY_LIMIT == runtime.HISTORY_LIMIT


def test_workflow_and_activity_type_names_are_the_contracts() -> None:
    """Recorded histories name these types: the contract's constants are the names the
    workflows and activities register under."""
    from temporalio import activity, workflow

    from activities.enrollment import EnrollmentActivities
    from workflows import JourneyWorkflow, contract
    from workflows.enrollment import SegmentEnrollmentWorkflow

    journey = workflow._Definition.must_from_class(JourneyWorkflow)
    enrollment = workflow._Definition.must_from_class(SegmentEnrollmentWorkflow)
    assert journey.name == contract.JOURNEY_WORKFLOW == "JourneyWorkflow"
    assert enrollment.name == contract.ENROLLMENT_WORKFLOW == "SegmentEnrollmentWorkflow"
    names = {
        activity._Definition.must_from_callable(fn).name
        for fn in (
            EnrollmentActivities.prepare,
            EnrollmentActivities.enroll_page,
            EnrollmentActivities.finish,
        )
    }
    assert (
        names
        == {
            contract.ENROLLMENT_PREPARE,
            contract.ENROLLMENT_PAGE,
            contract.ENROLLMENT_FINISH,
        }
        == {"segment_enrollment_prepare", "segment_enrollment_page", "segment_enrollment_finish"}
    )
