"""Branches on segment membership: the compiled condition, the facts read for it (real SQL
on SQLite and PostgreSQL, as of the workflow's clock) and a journey taking the member /
non-member ports on the time-skipping server, decided when the customer reaches the branch.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from activities.facts import load_facts
from db import crud, writer
from db.models import JourneyCreate, SegmentCreate
from db.seed import seed_demo
from engine import ir, semantics
from engine.compiler import compile_document
from engine.effects import CustomerFacts, FactsRequest
from services import segments as segment_service
from services.journeys import enroll_customers, publish
from services.temporal import TemporalGateway
from settings import Settings
from tests.audiences.conftest import NOW
from tests.audiences.harness import enrollment_worker
from workflows.runtime import JourneyResult

BROWSED_TWICE = {
    "rules": [{"type": "event", "event_type": "browse", "window_days": 7, "op": "gte", "value": 2}]
}
VIP = {"rules": [{"type": "tag", "tags": ["vip"], "match": "any"}]}


def branch_journey(segment_id: str, *, member: bool = True, wait_days: int = 0) -> dict[str, Any]:
    """entry → [wait] → branch (in segment?) → exit "in" / exit "out"."""
    nodes: list[dict[str, Any]] = [
        {"id": "entry", "kind": "entry", "config": {"trigger": {"type": "manual"}}},
        {
            "id": "b",
            "kind": "branch",
            "label": "还在人群里？",
            "config": {
                "rules": [
                    {
                        "id": "yes",
                        "conditions": [
                            {"type": "segment", "segment_id": segment_id, "member": member}
                        ],
                    }
                ]
            },
        },
        {"id": "in", "kind": "exit"},
        {"id": "out", "kind": "exit"},
    ]
    edges = [
        {"id": "e1", "source": "entry", "target": "b"},
        {"id": "e2", "source": "b", "source_port": "yes", "target": "in"},
        {"id": "e3", "source": "b", "source_port": "else", "target": "out"},
    ]
    if wait_days:
        nodes.append(
            {
                "id": "w",
                "kind": "wait",
                "config": {
                    "until": {"type": "duration", "duration": {"amount": wait_days, "unit": "days"}}
                },
            }
        )
        edges[0] = {"id": "e1", "source": "entry", "target": "w"}
        edges.append({"id": "e4", "source": "w", "target": "b"})
    return {"name": f"branch on {segment_id}", "nodes": nodes, "edges": edges}


# --------------------------------------------------------------------------- compiler


def test_segment_condition_compiles_and_names_its_segment() -> None:
    result = compile_document(branch_journey("vip", member=False), segments={"vip"})
    assert result.journey is not None, result.diagnostics
    step = result.journey.step("b")
    assert isinstance(step, ir.BranchStep)
    assert step.rules[0].conditions == (ir.SegmentCond("vip", member=False),)
    assert result.journey.branch_segments() == ("vip",)
    again = ir.CompiledJourney.from_dict(result.journey.to_dict())
    assert again == result.journey


def test_unknown_segment_in_a_branch_is_a_diagnostic_on_the_node() -> None:
    result = compile_document(branch_journey("vipp"), segments={"vip", "dormant_90d"})
    assert result.journey is None
    [diag] = [d for d in result.diagnostics if d.code == "UNKNOWN_SEGMENT"]
    assert list(diag.node_ids) == ["b"]
    assert "tests segment 'vipp'" in diag.message and "did you mean 'vip'" in diag.message


# --------------------------------------------------------------------------- semantics


def test_branch_reads_membership_and_member_false_negates() -> None:
    compiled = compile_document(branch_journey("vip")).journey
    negated = compile_document(branch_journey("vip", member=False)).journey
    assert compiled is not None and negated is not None
    step, not_step = compiled.step("b"), negated.step("b")
    assert isinstance(step, ir.BranchStep) and isinstance(not_step, ir.BranchStep)
    assert semantics.facts_needed(step, {}).segment_ids == ["vip"]
    inside = CustomerFacts("A", segments={"vip": True})
    outside = CustomerFacts("B", segments={"vip": False})
    port, inputs, _ = semantics.evaluate_branch(step, inside, {})
    assert (port, inputs) == ("yes", {"segment:vip": True})
    assert semantics.evaluate_branch(step, outside, {})[0] == "else"
    assert semantics.evaluate_branch(not_step, outside, {})[0] == "yes"


# --------------------------------------------------------------------------- facts (SQL)


def test_load_facts_evaluates_segments_as_of_the_workflow_clock(shop: Session) -> None:
    for segment_id, definition in (("browsed", BROWSED_TWICE), ("vip", VIP)):
        crud.create_segment(
            session=shop,
            segment_create=SegmentCreate(id=segment_id, name=segment_id, definition=definition),
        )

    def member(customer_id: str, as_of: Any) -> dict[str, bool]:
        request = FactsRequest(
            customer_id, as_of.isoformat(), segment_ids=["browsed", "vip", "gone"]
        )
        return load_facts(shop, request).segments

    # A browsed 1 and 2 days ago, C 3 and 4 days ago; A and C carry the "vip" tag
    assert member("A", NOW) == {"browsed": True, "vip": True, "gone": False}
    assert member("B", NOW) == {"browsed": False, "vip": False, "gone": False}
    assert member("C", NOW) == {"browsed": True, "vip": True, "gone": False}
    # four days on, A's two browses are still in the window, C's have left it
    later = NOW + timedelta(days=4)
    assert member("A", later)["browsed"] and not member("C", later)["browsed"]


# --------------------------------------------------------------------------- workflow


async def test_journey_branches_on_membership_when_the_customer_gets_there(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    seed_demo(session_or_engine=engine, customers=20)
    segment_id = f"seg_{uuid.uuid4().hex[:6]}"
    with Session(engine, expire_on_commit=False) as session:
        crud.create_segment(
            session=session,
            segment_create=SegmentCreate(
                id=segment_id,
                name="VIP",
                definition={"rules": [{"type": "tag", "tags": [segment_id], "match": "any"}]},
            ),
        )
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(
                name="branch", draft_document=branch_journey(segment_id, wait_days=1)
            ),
            by="test",
        )
        outcome = publish(session=session, journey_id=journey.id, by="test")
        assert outcome.ok, [d.message for d in outcome.diagnostics]
        customers = [c.id for c in crud.search_customers(session=session, query="", limit=3)]
        tagged, joins_later, never = customers
        _tag(session, tagged, segment_id)

    async with enrollment_worker(env.client, engine) as (queue, _):
        gateway = TemporalGateway(Settings(task_queue=queue), env.client)
        with Session(engine, expire_on_commit=False) as session:
            entered = await enroll_customers(
                session=session, temporal=gateway, journey_id=journey.id, customer_ids=customers
            )
        assert entered.started == 3, entered.to_dict()
        with Session(writer(engine), expire_on_commit=False) as session:
            _tag(session, joins_later, segment_id)  # during the wait: counts at the branch
            runs = {
                r.customer_id: r.workflow_id
                for r in crud.list_runs(session=session, journey_id=journey.id)
            }
        # handles from get_workflow_handle do not skip time by themselves: skip past the wait
        await env.sleep(timedelta(days=2))
        results = {
            cid: await env.client.get_workflow_handle(runs[cid], result_type=JourneyResult).result()
            for cid in customers
        }
    assert {cid: r.last_node for cid, r in results.items()} == {
        tagged: "in",
        joins_later: "in",
        never: "out",
    }


def _tag(session: Session, customer_id: str, tag: str) -> None:
    customer = crud.get_customer(session=session, customer_id=customer_id)
    assert customer is not None
    customer.tags = [*customer.tags, tag]
    session.add(customer)
    session.commit()


def test_where_used_names_journeys_that_branch_on_the_segment(session: Session) -> None:
    seed_demo(session_or_engine=session, customers=10)
    crud.create_segment(
        session=session, segment_create=SegmentCreate(id="vip", name="VIP", definition=VIP)
    )
    journey = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(name="branch", draft_document=branch_journey("vip")),
        by="test",
    )
    [draft_use] = segment_service.where_used(session=session, segment_id="vip")
    assert (draft_use.in_draft, draft_use.as_entry, draft_use.in_branches) == (True, False, True)
    assert publish(session=session, journey_id=journey.id, by="test").ok
    [live_use] = segment_service.where_used(session=session, segment_id="vip")
    assert (live_use.live_version, live_use.schedule, live_use.in_branches) == (1, "", True)
    # an archived journey still counts: restored and resumed, it would branch on the segment
    crud.set_status(session=session, journey_id=journey.id, status="archived", by="test")
    [archived_use] = segment_service.where_used(session=session, segment_id="vip")
    assert (archived_use.status, archived_use.live_version) == ("archived", 1)
    with pytest.raises(segment_service.SegmentInUseError):
        segment_service.delete_segment(session=session, segment_id="vip")
    # the segments page reads every segment's usage in one pass
    assert segment_service.usage_by_segment(session=session) == {"vip": [archived_use]}
