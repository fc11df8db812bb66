"""The per-customer journey workflow: the interpreter of engine/ on Temporal's clock.

The workflow is a thin shell. Its input names the published journey version (so editing a
journey never changes a running customer's path) plus the customer; all semantics live in
:class:`engine.interpreter.Interpreter`; :class:`workflows.runtime.TemporalRuntime` maps the
interpreter's runtime interface onto durable timers, conditions and activities. No I/O
happens here: the version is read from the worker's cache (``workflows.journey_cache``),
which holds it before the run's first task (runs started before ``JourneyInput.journey_ref``
carry the compiled journey inline).

Changes to interpreter behaviour that would alter recorded histories go behind a change id
(``engine.interpreter.PATCHES``): a run started by this release carries the ids it takes in
its input (``JourneyInput.new``); older runs decide by ``workflow.patched`` markers
(samples-python ``patching/``). The replay corpus in tests/replay must keep passing.
"""

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.interpreter import PATCHES, Interpreter, new_state

    # in the sandbox's modules too: CompiledJourney.from_dict resolves the IR's type hints
    # through sys.modules (an inline journey, below, is parsed in here)
    from engine.ir import CompiledJourney
    from engine.runtime import MOVE_VERSION, CustomerEventIn, RunState, TaskOutcome, VersionMove
    from workflows.contract import JourneyInput, JourneyResult, MoveToVersion
    from workflows.journey_cache import JourneyRef
    from workflows.runtime import TemporalRuntime


#: Not sandboxed. The sandbox isolates a workflow's module state by re-importing its modules
#: and restricts what they may call; our workflow and engine modules are passed through
#: (journeys.worker.WORKFLOW_RUNNER), so neither applied to this code any more. What was left
#: was the cost: every payload of every activation asked the sandbox for its serialization
#: context through an ``exec`` (bench.throughput: ratio 0.90 sandboxed, 0.97–0.98 not, on
#: one machine in one hour). Determinism is kept by construction (a pure interpreter, no
#: I/O), by tests/workflows/test_determinism_guard.py (no clock, randomness, environment or
#: I/O calls in engine/ and workflows/) and by the replay corpus.
@workflow.defn(name="JourneyWorkflow", sandboxed=False)
class JourneyWorkflow:
    """One customer's path through one published journey version."""

    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        self._journey: CompiledJourney = inp.compiled()
        info = workflow.info()
        state = inp.state or new_state(
            customer_id=inp.customer_id,
            enrollment_id=inp.enrollment_id or info.first_execution_run_id[:8],
            entered_at=workflow.now(),
            entry_node_id=self._journey.entry_node_id,
            entry_event=inp.entry_event,
            facts=inp.facts,
        )
        self._interp = Interpreter(
            self._journey,
            TemporalRuntime(inp.history_limit),
            workflow_id=info.workflow_id,
            state=state,
        )

    @workflow.run
    async def run(self, inp: JourneyInput) -> JourneyResult:
        runtime = self._interp.rt
        assert isinstance(runtime, TemporalRuntime)
        runtime.decide_patches(PATCHES, inp.semantics)
        outcome = await self._interp.run()
        st = outcome.state
        if outcome.continue_as_new:
            await workflow.wait_condition(workflow.all_handlers_finished)
            st.steps = 0
            now = self._interp.journey  # another version after a move
            moved = now is not self._journey
            workflow.continue_as_new(
                JourneyInput(
                    journey={} if moved else inp.journey,
                    customer_id=inp.customer_id,
                    enrollment_id=st.enrollment_id,
                    state=st,
                    history_limit=inp.history_limit,
                    semantics=runtime.decided(),
                    journey_ref=(
                        JourneyRef(now.journey_id, now.version, now.content_hash)
                        if moved
                        else inp.journey_ref
                    ),
                )
            )
        last = st.trace[-1].node_id if st.trace else None
        return JourneyResult(st.status, st.exit_reason, st.goal_reached, last, len(st.trace))

    @workflow.signal
    def customer_event(self, event: CustomerEventIn) -> None:
        self._interp.on_event(event)

    @workflow.signal
    def task_outcome(self, outcome: TaskOutcome) -> None:
        self._interp.on_task_outcome(outcome)

    @workflow.signal
    def stop(self, reason: str) -> None:
        self._interp.on_stop(reason)

    @workflow.signal
    def pause(self) -> None:
        self._interp.on_pause(True)

    @workflow.signal
    def resume(self) -> None:
        self._interp.on_pause(False)

    @workflow.signal
    def move_version(self, move: MoveToVersion) -> None:
        if not workflow.patched(MOVE_VERSION):
            return  # recorded by a release that ignored this signal: it stays ignored
        journey = move.compiled()
        self._interp.on_move(
            journey,
            VersionMove(
                move.move_id, move.from_version, journey.version, dict(move.node_map), move.by
            ),
        )

    @workflow.query
    def state(self) -> RunState:
        return self._interp.state

    @workflow.query
    def journey_ref(self) -> dict[str, Any]:
        j = self._interp.journey
        return {"journey_id": j.journey_id, "version": j.version, "content_hash": j.content_hash}
