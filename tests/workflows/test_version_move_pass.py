"""Moving the customers waiting in v1 to v2 (issue 17 item 3) end to end: the dry run's
numbers from the run rows, a refused plan (409 in the API), and a pass on the time-skipping
server with the real activities: the customers at mapped nodes land there (their run rows
now v2), their coupon is not issued again, the ones at an unmapped node stay on v1."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, func, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import JourneyActivities, all_activities
from db import crud
from db.models import (
    AuditEntry,
    CouponTemplate,
    Customer,
    IssuedCoupon,
    JourneyCreate,
    JourneyVersion,
)
from db.session import writer
from engine.compiler import compile_document
from services import version_moves as moves
from services.enrollment import enter
from settings import Settings
from workflows import JourneyWorkflow, journey_cache

ENTRY: dict[str, Any] = {
    "id": "entry",
    "kind": "entry",
    "config": {"trigger": {"type": "manual"}, "reentry": {"policy": "after_exit"}},
}
COUPON = {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}}


def _wait(node_id: str, days: int) -> dict[str, Any]:
    return {
        "id": node_id,
        "kind": "wait",
        "config": {"until": {"type": "duration", "duration": {"amount": days, "unit": "days"}}},
    }


def _doc(nodes: list[dict[str, Any]], path: list[str]) -> dict[str, Any]:
    return {
        "name": "复购",
        "nodes": [*nodes, {"id": "done", "kind": "exit"}],
        "edges": [
            {"id": f"e{i}", "source": a, "source_port": "next", "target": b}
            for i, (a, b) in enumerate(zip(path, [*path[1:], "done"], strict=True))
        ],
    }


#: v1: coupon, wait 3 days, wait 2 more days, message; v2 drops the second wait
V1 = _doc(
    [
        ENTRY,
        COUPON,
        _wait("w", 3),
        _wait("w2", 2),
        {"id": "m", "kind": "send_message", "config": {"content": "v1"}},
    ],
    ["entry", "c", "w", "w2", "m"],
)
V2 = _doc(
    [
        ENTRY,
        COUPON,
        _wait("w", 5),
        {"id": "m2", "kind": "send_message", "config": {"content": "v2"}},
    ],
    ["entry", "c", "w", "m2"],
)


def _publish(s: Session, journey_id: str, doc: dict[str, Any], version: int) -> JourneyVersion:
    result = compile_document(
        doc, journey_id=journey_id, version=version, coupon_templates={"NEW20"}
    )
    assert result.journey is not None, [d.message for d in result.diagnostics]
    row = crud.publish_version(
        session=s,
        journey_id=journey_id,
        document=doc,
        compiled=result.journey.to_dict(),
        content_hash=result.journey.content_hash,
        by="hq",
    )
    s.refresh(row)
    s.expunge(row)
    return row


def _setup(engine: Engine) -> tuple[str, JourneyVersion]:
    with Session(writer(engine)) as s:
        for cid in ("C1", "C2", "C3"):
            s.add(Customer(id=cid, name=f"客户{cid}"))
        s.add(CouponTemplate(id="NEW20", name="新客券", face_value=20))
        s.commit()
        journey = crud.create_journey(session=s, journey_create=JourneyCreate(name="复购"), by="hq")
        v1 = _publish(s, journey.id, V1, 1)
        return journey.id, v1


async def _until(check: Any, what: str) -> None:
    """Wait on state (never on the clock) until ``check()`` holds."""
    for _ in range(500):
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


def _rows(engine: Engine, journey_id: str) -> dict[str, tuple[int, str | None, str]]:
    with Session(engine) as s:
        runs = crud.list_runs(session=s, journey_id=journey_id)
        return {r.customer_id: (r.journey_version, r.current_node, r.status) for r in runs}


async def test_waiting_customers_move_to_the_mapped_nodes(
    env: WorkflowEnvironment, engine: Engine, db_url: str
) -> None:
    settings = Settings(database_url=db_url, task_queue=f"move-{uuid.uuid4()}")
    journey_id, v1 = _setup(engine)
    async with Worker(
        env.client,
        task_queue=settings.task_queue,
        workflows=[JourneyWorkflow],
        activities=all_activities(JourneyActivities.from_engine(engine, settings)),
    ):

        async def join(cid: str) -> None:
            with Session(writer(engine)) as session:
                out = await enter(
                    session=session,
                    client=env.client,
                    task_queue=settings.task_queue,
                    version=v1,
                    customer_id=cid,
                )
            assert out.started, out

        await join("C3")
        await _until(lambda: _rows(engine, journey_id).get("C3", (0, ""))[1] == "w", "C3 at w")
        await env.sleep(timedelta(days=3, minutes=1))
        await _until(lambda: _rows(engine, journey_id)["C3"][1] == "w2", "C3 at w2")
        await join("C1")
        await join("C2")
        await _until(
            lambda: (
                [r[1] for c, r in sorted(_rows(engine, journey_id).items())] == ["w", "w", "w2"]
            ),
            "C1, C2 at w",
        )
        with Session(writer(engine)) as s:
            v2 = _publish(s, journey_id, V2, 2)
        journey_cache.remember(v2.compiled)  # a single-process install: the starter's cache

        with Session(engine) as s:
            plan = moves.plan_move(session=s, journey_id=journey_id, from_version=1)
        assert plan.to_version == 2
        rows = {r.node.node_id: r for r in plan.rows}
        assert rows["w"].waiting == 2 and rows["w"].target is not None
        assert rows["w"].target.node_id == "w" and rows["w"].same_place
        assert [k.node_id for k in rows["w"].kept] == ["c"]  # the coupon stays issued
        assert rows["w2"].waiting == 1 and rows["w2"].target is None  # gone in v2: stays
        assert (plan.moving, plan.staying, plan.ok) == (2, 1, True)

        with Session(writer(engine)) as s:
            with pytest.raises(moves.MoveRefusedError) as refused:
                moves.start_move(
                    session=s, journey_id=journey_id, from_version=1, mapping={"w2": "w9"}, by="li"
                )
            assert [(r.node.node_id, r.problem) for r in refused.value.plan.problems] == [
                ("w2", "missing")
            ]
            row = moves.start_move(session=s, journey_id=journey_id, from_version=1, by="li")
            s.commit()
            move_id = row.id
        assert move_id is not None
        done = await moves.run_move(engine=engine, client=env.client, move_id=move_id)
        assert (done.status, done.total, done.moved, done.skipped) == ("done", 2, 2, 0)

        await _until(
            lambda: (
                {c: r[0] for c, r in _rows(engine, journey_id).items()}
                == {"C1": 2, "C2": 2, "C3": 1}
            ),
            "C1 and C2 on v2",
        )
        await env.sleep(timedelta(days=5, minutes=1))
        await _until(
            lambda: all(r[2] == "exited" for r in _rows(engine, journey_id).values()),
            "everyone done",
        )
        final = _rows(engine, journey_id)
        state = await env.client.get_workflow_handle(f"journey-{journey_id}-C1").query(
            JourneyWorkflow.state
        )
    assert final == {
        "C1": (2, "done", "exited"),
        "C2": (2, "done", "exited"),
        "C3": (1, "done", "exited"),
    }
    moved = [t for t in state.trace if t.kind == "move"]
    assert moved[0].summary == "moved from v1 node w to v2 node w by li"
    assert [t.node_id for t in state.trace if t.kind == "send_message"] == ["m2"]
    with Session(engine) as s:
        coupons = s.exec(select(func.count()).select_from(IssuedCoupon)).one()
        logged = s.exec(select(AuditEntry).where(AuditEntry.action == "migrate")).all()
    assert coupons == 3  # one each, none issued again by the move
    assert [(e.actor, e.object_id, e.before, e.after) for e in logged] == [
        (
            "li",
            journey_id,
            {"version": 1, "waiting": 3},
            {"version": 2, "node_map": {"w": "w"}, "moving": 2},
        )
    ]
