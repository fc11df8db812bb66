"""services.replay on the corpus: every history replays clean through the same code path the
CLI uses, and a deliberate nondeterministic change is reported at the right event and node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from temporalio import workflow

from engine.effects import ISSUE_COUPON
from services.replay import export_history, load_dir, load_history, replay_many, replay_one
from tests.replay.test_replay import ReorderedJourneyWorkflow
from workflows import JourneyInput, JourneyWorkflow
from workflows.runtime import JourneyResult, TemporalRuntime

HISTORIES = Path(__file__).parent / "histories"


class ThrottledRuntime(TemporalRuntime):
    """A 'release' that waits a second before every coupon: changes recorded commands."""

    async def effect(self, effect: Any, request: Any) -> Any:
        if effect is ISSUE_COUPON:
            await workflow.sleep(1)
        return await super().effect(effect, request)


@workflow.defn(name="JourneyWorkflow", sandboxed=False)
class ThrottledCouponWorkflow(JourneyWorkflow):
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        super().__init__(inp)
        self._interp.rt = ThrottledRuntime(inp.history_limit)

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyResult:
        return await super().run(inp)


async def test_corpus_replays_clean_with_progress() -> None:
    seen: list[tuple[int, int]] = []
    histories = load_dir(HISTORIES)
    summary = await replay_many(
        histories, total=len(histories), on_progress=lambda d, t, r: seen.append((d, t))
    )
    assert summary.ok, summary.to_dict()
    assert len(summary.results) == len(histories) >= 8
    assert seen[-1] == (len(histories), len(histories))


async def test_throttled_coupon_is_reported_at_the_coupon_node() -> None:
    history = load_history(HISTORIES / "branch_coupon_message.json")
    result = await replay_one(history, workflows=[ThrottledCouponWorkflow])
    assert not result.ok and result.error_type == "nondeterminism"
    div = result.divergence
    assert div is not None
    assert div.node_id == "c"
    assert div.event_type == "ACTIVITY_TASK_SCHEDULED"
    assert "issue_coupon" in div.event_detail
    assert div.last_matched is not None and "load_facts" in div.last_matched
    scheduled = [
        e.event_id for e in history.events if e.event_type == 10
    ]  # ACTIVITY_TASK_SCHEDULED
    assert div.event_id == scheduled[0]


async def test_change_before_anything_points_at_the_first_command() -> None:
    history = load_history(HISTORIES / "branch_coupon_message.json")
    result = await replay_one(history, workflows=[ReorderedJourneyWorkflow])
    assert result.divergence is not None
    assert result.divergence.event_type == "MARKER_RECORDED"
    assert result.divergence.node_id == "entry"


async def test_export_then_replay_dir(tmp_path: Path) -> None:
    for h in load_dir(HISTORIES)[:2]:
        export_history(h, tmp_path)
    summary = await replay_many(load_dir(tmp_path))
    assert summary.ok and len(summary.results) == 2


async def test_run_recorded_before_a_patched_change_still_replays() -> None:
    """Recorded before the facts-snapshot change (SEMANTICS_V2): the old run read
    the profile again at the branch. Behind ``workflow.patched`` it replays the old way."""
    history = load_history(
        Path(__file__).parent / "known_breaks" / "loop_continue_as_new_before_patch.json"
    )
    result = await replay_one(history)
    assert result.error_type is None, result


async def test_the_same_change_without_the_patch_is_named() -> None:
    """The change shipped unpatched (patched() always True) breaks that run at event 5,
    the ``load_facts`` of branch ``b`` — which is why it ships behind the patch."""
    from unittest import mock

    from workflows.runtime import TemporalRuntime

    history = load_history(
        Path(__file__).parent / "known_breaks" / "loop_continue_as_new_before_patch.json"
    )
    with mock.patch.object(TemporalRuntime, "patched", lambda self, change_id: True):
        result = await replay_one(history)
    assert result.error_type == "nondeterminism"
    assert result.divergence is not None
    assert result.divergence.event_id == 5
    assert result.divergence.node_id == "b"
