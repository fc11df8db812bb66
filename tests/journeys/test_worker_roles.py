"""The journey worker split in two processes' roles (``journeys worker --role``, as ``journeys
up`` runs it): the workflows side runs journeys and their local activities and never takes
an activity from the queue; the activities side takes them. A journey with a branch (facts:
a local activity) and a message (an activity from the queue) runs end to end on the pair,
its message sent by the activities side (time-skipping server, real activities on SQLite)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from db import crud, make_engine, upgrade
from db.models import Customer, JourneyCreate, JourneyRun, JourneyVersion, OutboxMessage
from engine.compiler import compile_document
from engine.effects import MessageSent, SendMessageRequest
from journeys.processes import Role
from journeys.worker import build_worker
from services.enrollment import enter
from services.temporal import data_converter
from settings import Settings
from tests.workflows.harness import ENTRY, EXIT, doc
from workflows import JourneyWorkflow


class _NoRemoteActivities(JourneyActivities):
    """The workflows side's activities: a message sent here would be a remote activity
    taken from the queue by the wrong process."""

    @activity.defn(name="send_message")
    async def send_message(self, request: SendMessageRequest) -> MessageSent:
        raise AssertionError("the workflows side took an activity from the queue")


DOCUMENT: dict[str, Any] = doc(
    [
        ENTRY,
        {
            "id": "b",
            "kind": "branch",
            "config": {
                "rules": [
                    {
                        "id": "gold",
                        "conditions": [
                            {
                                "type": "attribute",
                                "field": "member_level",
                                "op": "eq",
                                "value": "gold",
                            }
                        ],
                    }
                ]
            },
        },
        {
            "id": "m",
            "kind": "send_message",
            "config": {"channel": "sms", "content": "{{ customer.surname }}女士，新品到店"},
        },
        EXIT,
    ],
    [("entry", "next", "b"), ("b", "gold", "m"), ("b", "else", "done"), ("m", "next", "done")],
)


def _publish(engine: Engine) -> JourneyVersion:
    with Session(engine, expire_on_commit=False) as session:
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(name="roles", draft_document=DOCUMENT),
            by="test",
        )
        compiled = compile_document(DOCUMENT, journey_id=journey.id, version=1).journey
        assert compiled is not None
        return crud.publish_version(
            session=session,
            journey_id=journey.id,
            document=DOCUMENT,
            compiled=compiled.to_dict(),
            content_hash=compiled.content_hash,
            by="test",
        )


async def test_the_two_roles_run_a_journey_together(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'roles.db'}"
    upgrade(url)
    settings = Settings(
        database_url=url, data_dir=tmp_path, task_queue=f"roles-{uuid.uuid4().hex[:8]}"
    )
    engine = make_engine(url)
    with Session(engine) as s:
        s.add(Customer(id="C1", name="李女士", phone="13800001111", member_level="gold"))
        s.commit()
    config = env.client.config()
    config["data_converter"] = data_converter(settings)
    client = Client(**config)
    workflows = build_worker(
        client,
        settings,
        role=Role.WORKFLOWS,
        activities=_NoRemoteActivities.from_engine(engine, settings),
    )
    activities = build_worker(client, settings, role=Role.ACTIVITIES)
    assert workflows.config()["no_remote_activities"] is True
    assert activities.config()["workflows"] == []
    version = _publish(engine)
    async with workflows, activities:
        with Session(engine) as s:
            entered = await enter(
                session=s,
                client=client,
                task_queue=settings.task_queue,
                version=version,
                customer_id="C1",
            )
        assert entered.started, entered
        handle = client.get_workflow_handle_for(JourneyWorkflow.run, entered.workflow_id)
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert result.exit_reason == "exit"
    assert [(t.node_id, t.port) for t in state.trace][:3] == [
        ("entry", "next"),
        ("b", "gold"),
        ("m", "next"),
    ]
    with Session(engine) as s:
        run = s.exec(select(JourneyRun)).one()
        assert (run.status, run.exit_reason) == ("exited", "exit")
        sent = s.exec(select(OutboxMessage)).all()
        assert [(m.customer_id, m.channel, m.node_id) for m in sent] == [("C1", "sms", "m")]
        assert sent[0].body == "李女士，新品到店"
    engine.dispose()
