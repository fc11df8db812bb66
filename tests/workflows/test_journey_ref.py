"""Runs name their journey version by reference (issue 12: a smaller history), and runs
started with the journey inline (before ``JourneyInput.journey_ref``) still run."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.sandbox import SandboxActivities
from db import crud
from db.models import JourneyCreate
from engine import ir
from engine.ir import CompiledJourney
from journeys.worker import WORKFLOW_RUNNER
from services.temporal import data_converter, journey_loader, with_journey_loader
from settings import Settings
from tests.workflows.harness import ENTRY, EXIT, compile_ok, default_world, doc, path
from workflows import JourneyInput, JourneyWorkflow, journey_cache
from workflows.codec import JourneyCodec
from workflows.journey_cache import JourneyNotLoadedError, JourneyRef

COUPON_MESSAGE = doc(
    [
        ENTRY,
        {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
        {"id": "m", "kind": "send_message", "config": {"content": "券 {{ ctx.c.code }}"}},
        EXIT,
    ],
    [("entry", "next", "c"), ("c", "next", "m"), ("m", "next", "done")],
)


def _started_input(history: WorkflowHistory) -> dict[str, Any]:
    attrs = history.events[0].workflow_execution_started_event_attributes
    payload = attrs.input.payloads[0]
    assert payload.metadata["encoding"] == b"json/plain"
    data: dict[str, Any] = json.loads(payload.data)
    return data


async def _run(env: WorkflowEnvironment, inp: JourneyInput, client: Any = None) -> Any:
    client = client or env.client
    acts = SandboxActivities(default_world)
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[JourneyWorkflow], activities=acts.all()):
        handle = await client.start_workflow(
            JourneyWorkflow.run, inp, id=f"journey-ref-{uuid.uuid4().hex[:8]}", task_queue=queue
        )
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    return handle, result, state


async def test_new_input_names_the_journey_and_runs(env: WorkflowEnvironment) -> None:
    journey = compile_ok(COUPON_MESSAGE, journey_id="j-ref")
    inp = JourneyInput.new(journey=journey.to_dict(), customer_id="C1")
    assert inp.journey == {}
    assert inp.journey_ref == JourneyRef("j-ref", 1, journey.content_hash)

    handle, result, state = await _run(env, inp)

    assert result.status == "exited"
    assert path(state) == [("entry", "next"), ("c", "next"), ("m", "next"), ("done", None)]
    started = _started_input(await handle.fetch_history())
    assert started["journey"] == {}
    assert started["journey_ref"] == {
        "journey_id": "j-ref",
        "version": 1,
        "content_hash": journey.content_hash,
    }
    inline = json.dumps(journey.to_dict(), separators=(",", ":"))
    assert len(json.dumps(started)) < len(inline)  # the whole input: smaller than the journey


async def test_run_started_with_the_journey_inline_still_runs(env: WorkflowEnvironment) -> None:
    """The input of a run started by the previous release: journey inline, no semantics."""
    journey = compile_ok(COUPON_MESSAGE, journey_id="j-inline")
    handle, result, state = await _run(
        env, JourneyInput(journey=journey.to_dict(), customer_id="C1")
    )
    assert result.status == "exited"
    assert path(state)[-1] == ("done", None)
    assert _started_input(await handle.fetch_history())["journey_ref"] is None


async def test_worker_elsewhere_loads_the_published_version(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    """A starter in another process (web app, enrollment worker) names a published version
    the worker has never seen: the worker's codec loads it from the database once."""
    with Session(engine) as session:
        row = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(name="ref", draft_document=COUPON_MESSAGE),
            by="test",
        )
        journey_id = row.id
    compiled = compile_ok(COUPON_MESSAGE, journey_id=journey_id).to_dict()
    with Session(engine) as session:
        version = crud.publish_version(
            session=session,
            journey_id=journey_id,
            document=COUPON_MESSAGE,
            compiled=compiled,
            content_hash=compiled["content_hash"],
            by="test",
        )
    ref = JourneyRef(journey_id, version.version, version.content_hash)
    journey_cache.forget_all()  # as in a worker process that has run nothing yet
    loads: list[JourneyRef] = []
    from_db = journey_loader(engine)

    async def counting(r: JourneyRef) -> dict[str, Any] | None:
        loads.append(r)
        return await from_db(r)

    client = with_journey_loader(env.client, counting)
    codec = client.data_converter.payload_codec
    assert isinstance(codec, JourneyCodec) and codec.compress_over is None

    for customer in ("C1", "C2"):
        inp = JourneyInput.new(journey_ref=ref, customer_id=customer)
        _, result, state = await _run(env, inp, client)
        assert result.status == "exited" and path(state)[-1] == ("done", None)
    assert loads == [ref]  # once per version, not per run
    assert isinstance(journey_cache.lookup(ref), CompiledJourney)


def test_a_journey_not_loaded_names_the_version_and_the_fix() -> None:
    ref = JourneyRef("j-missing", 3, "0123456789abcdef")
    with pytest.raises(JourneyNotLoadedError, match=r"j-missing v3 \(0123456789abcdef\)"):
        journey_cache.require(ref)


def test_new_needs_a_journey_and_rejects_a_mismatched_reference() -> None:
    journey = compile_ok(COUPON_MESSAGE, journey_id="j-new").to_dict()
    with pytest.raises(TypeError, match="journey"):
        JourneyInput.new(customer_id="C1")
    with pytest.raises(ValueError, match="does not match"):
        JourneyInput.new(journey=journey, journey_ref=JourneyRef("j-new", 2, "x"), customer_id="C1")
    with pytest.raises(ValueError, match="not a compiled journey"):
        JourneyInput.new(journey={"steps": []}, customer_id="C1")


HISTORIES = Path(__file__).parent.parent / "replay" / "histories"


@pytest.mark.parametrize("name", ["branch_coupon_message", "loop_continue_as_new"])
async def test_inline_histories_replay_on_the_production_runner(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journey worker passes the app's workflow code through the sandbox: runs recorded
    with the journey inline still replay there, parsing the IR inside the sandbox."""
    monkeypatch.setattr(ir, "_ENUM_FIELDS", {})  # as in a fresh worker: nothing parsed yet
    data = json.loads((HISTORIES / f"{name}.json").read_text())
    history = WorkflowHistory.from_json(f"replay-{name}", data)
    replayer = Replayer(workflows=[JourneyWorkflow], workflow_runner=WORKFLOW_RUNNER)
    await replayer.replay_workflow(history)


async def test_runs_on_the_app_codec_compress_big_payloads_end_to_end(
    env: WorkflowEnvironment,
) -> None:
    """Client and worker on the app's data converter (as ``journeys up`` runs them): big
    payloads (a long message, the state carried across continue-as-new, the ``state``
    query) travel compressed and come back whole."""
    loop = doc(
        [
            ENTRY,
            {
                "id": "w",
                "kind": "wait",
                "config": {
                    "until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}
                },
            },
            {"id": "m", "kind": "send_message", "config": {"content": "每日提醒 " * 200}},
            {
                "id": "b",
                "kind": "branch",
                "config": {
                    "rules": [
                        {
                            "id": "again",
                            "conditions": [{"type": "tag", "tag": "stop", "present": False}],
                        }
                    ]
                },
            },
            EXIT,
        ],
        [
            ("entry", "next", "w"),
            ("w", "next", "m"),
            ("m", "next", "b"),
            ("b", "again", "w"),
            ("b", "else", "done"),
        ],
        max_node_visits=8,
    )
    journey = compile_ok(loop, journey_id="j-zlib")
    config = env.client.config()
    config["data_converter"] = data_converter(Settings(database_url="sqlite:///:memory:"))
    client = Client(**config)
    inp = JourneyInput.new(journey=journey.to_dict(), customer_id="C1", history_limit=40)

    handle, result, state = await _run(env, inp, client)

    assert result.exit_reason == "visit_limit"
    assert [t.node_id for t in state.trace].count("m") >= 1
    encodings = [
        p.metadata["encoding"]
        for e in (await handle.fetch_history()).events
        for p in e.activity_task_scheduled_event_attributes.input.payloads
    ]
    assert b"binary/zlib" in encodings  # the long message's request
    desc = await handle.describe()
    assert desc.run_id != handle.first_execution_run_id  # continued as new, compressed
