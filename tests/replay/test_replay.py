"""The recorded corpus replays against the current workflow code; a change that alters
the commands a history recorded is caught as nondeterminism, naming the event."""

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.replay.scenarios import SCENARIOS
from workflows import JourneyInput, JourneyWorkflow
from workflows.runtime import JourneyResult

HISTORIES = Path(__file__).parent / "histories"
FILES = sorted(HISTORIES.glob("*.json"))


def _history(path: Path) -> WorkflowHistory:
    data = json.loads(path.read_text())
    return WorkflowHistory.from_json(f"replay-{path.stem}", data)


def _markers(path: Path) -> set[str]:
    events = json.loads(path.read_text())["events"]
    return {
        e["markerRecordedEventAttributes"]["markerName"]
        for e in events
        if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
    }


def test_corpus_holds_runs_that_decided_semantics_both_ways() -> None:
    """Runs started before ``JourneyInput.semantics`` decided each change with a
    ``workflow.patched`` marker; runs started with ``JourneyInput.new`` carry the decision
    in their input and record no marker. Both replay (test below)."""
    with_marker = {p.stem for p in FILES if "core_patch" in _markers(p)}
    assert "branch_coupon_message" in with_marker
    assert "branch_segment_after_wait" not in with_marker


def test_corpus_covers_every_scenario_and_node_kind() -> None:
    assert {p.stem for p in FILES} == {s.name for s in SCENARIOS}
    kinds = {n["kind"] for s in SCENARIOS for n in s.document["nodes"]}
    assert kinds == {
        "entry",
        "wait",
        "wait_for_event",
        "branch",
        "split",
        "send_coupon",
        "send_message",
        "assign_guide_task",
        "update_customer",
        "exit",
        "award_points",
        "wait_purchase_cycle",
        "wait_until_date",
    }


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_history_replays_with_current_code(path: Path) -> None:
    await Replayer(workflows=[JourneyWorkflow]).replay_workflow(_history(path))


@workflow.defn(name="JourneyWorkflow", sandboxed=False)
class ReorderedJourneyWorkflow(JourneyWorkflow):
    """A 'new release' that sends a reminder timer before doing anything: not replay-safe."""

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyResult:
        await workflow.sleep(60)
        return await super().run(inp)


async def test_nondeterministic_change_is_detected() -> None:
    with pytest.raises(NondeterminismError):
        await Replayer(workflows=[ReorderedJourneyWorkflow]).replay_workflow(
            _history(HISTORIES / "branch_coupon_message.json")
        )
