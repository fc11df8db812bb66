"""A template past a rendering limit is a permanent render failure of the activity (nothing
recorded, nothing retried), and in a run the node takes its ``on_failure`` path."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities import JourneyActivities
from activities.sandbox import SandboxActivities
from db.models import GuideTask, OutboxMessage
from engine.effects import TEMPLATE_RENDER_FAILED, CreateTaskRequest, SendMessageRequest
from tests.activities.conftest import ctx
from tests.workflows.harness import (
    EXIT,
    GOAL,
    compile_ok,
    default_world,
    doc,
    journey_worker,
    path,
    start,
)
from workflows import JourneyWorkflow

HUGE = "{{ customer.name }}{{ 'x' * 20000000 }}"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (HUGE, "'*' would make a text longer than 50000 characters"),
        ("{% for i in range(10 ** 7) %}x{% endfor %}", "range() would make a list of more"),
        ("{{ customer.name * 10001 }}", "the message would be longer than 10000 characters"),
    ],
)
async def test_message_past_a_limit_is_a_permanent_render_failure(
    acts: JourneyActivities, shop: sessionmaker[Session], content: str, reason: str
) -> None:
    request = SendMessageRequest(ctx=ctx("C1"), channel="sms", content=content)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.send_message, request)
    assert (raised.value.type, raised.value.non_retryable) == (TEMPLATE_RENDER_FAILED, True)
    assert raised.value.message.startswith("node n1: ") and reason in raised.value.message
    with shop() as s:
        assert list(s.exec(select(OutboxMessage))) == []


async def test_task_instructions_past_a_limit_are_a_permanent_render_failure(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    request = CreateTaskRequest(
        ctx=ctx("C1"),
        task_type="call",
        title="",
        instructions="{{ customer.name|center(10 ** 9) }}",
        assignee="bound_guide",
        due_at="2025-06-02T02:00:00Z",
        remind_at=None,
        outcomes=[],
        context={},
    )
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.create_task, request)
    assert (raised.value.type, raised.value.non_retryable) == (TEMPLATE_RENDER_FAILED, True)
    assert "filter 'center' would make a text longer than 50000 characters" in str(
        raised.value.message
    )
    with shop() as s:
        assert list(s.exec(select(GuideTask))) == []


async def test_message_past_a_limit_takes_the_failed_port_in_a_run(
    env: WorkflowEnvironment, acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    """The worker's send_message on the time-skipping server (the other effects are sandbox
    stand-ins): the render failure is reported and the node follows its ``failed`` port."""
    message: dict[str, Any] = {
        "id": "m",
        "kind": "send_message",
        "config": {"channel": "sms", "content": HUGE, "on_failure": "port"},
    }
    journey = compile_ok(
        doc(
            [{"id": "entry", "kind": "entry"}, message, GOAL, EXIT],
            [("entry", "next", "m"), ("m", "next", "goal"), ("m", "failed", "done")],
        )
    )
    sandbox = SandboxActivities(default_world)
    others = [a for a in sandbox.all() if a != sandbox.send_message]
    async with journey_worker(env, extra_activities=[acts.send_message, *others]) as (queue, _):
        handle = await start(env, queue, journey, customer_id="C1")
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert not result.goal_reached
    assert path(state)[1:] == [("m", "failed"), ("done", None)]
    assert state.trace[1].error == TEMPLATE_RENDER_FAILED
    with shop() as s:
        assert list(s.exec(select(OutboxMessage))) == []
