"""A real run through every node kind, explained from its own trace: by the state query
while a worker is up, by replaying its history when none is, and on the run page."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from canvas_ui.i18n import use_locale
from canvas_ui.run_notes import current_note, step_note
from services.runs import explain_workflow, search_runs, waiting_at
from services.temporal import TemporalGateway
from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
from tests.replay.scenarios import wait_at
from tests.runs.harness import KINDS, add_run, outcome, publish_every_kind, purchase
from tests.workflows.harness import journey_worker, start
from workflows import JourneyWorkflow


async def _run_every_kind(env: Any, journey: Any) -> tuple[str, Any]:
    async with journey_worker(env) as (queue, acts):
        handle = await start(env, queue, journey)
        await wait_at(handle, "wait")
        await env.sleep(timedelta(days=1, minutes=1))
        await wait_at(handle, "buy")
        await handle.signal(JourneyWorkflow.customer_event, purchase(await env.get_current_time()))
        await wait_at(handle, "call")
        task_id = acts.world("C1").tasks[0]["task_id"]
        await handle.signal(JourneyWorkflow.task_outcome, outcome(task_id))
        await handle.result()
        gateway = TemporalGateway(settings=None, client=env.client)  # type: ignore[arg-type]
        live = await explain_workflow(
            temporal=gateway,
            workflow_id=handle.id,
            journey=journey,
            journey_id=journey.journey_id,
            version=1,
        )
    return handle.id, live


async def test_every_kind_explained_by_query_and_by_history(env: Any, canvas_app: FastAPI) -> None:
    with Session(canvas_app.state.engine) as session:
        journey_id, journey = publish_every_kind(session)
    workflow_id, live = await _run_every_kind(env, journey)
    assert live is not None and live.source == "query"
    assert {s.kind for s in live.steps} == KINDS
    assert live.path == [
        "entry",
        "ab",
        "tag",
        "rfm",
        "coupon",
        "msg",
        "wait",
        "buy",
        "call",
        "goal",
    ]
    assert live.status == "exited" and live.goal_reached
    by_node = {s.node_id: s for s in live.steps}
    assert by_node["rfm"].port == "vip" and by_node["rfm"].next_node == "coupon"
    assert "rfm_class" in str(by_node["rfm"].inputs)
    # step states: the coupon appears in the context at its step, the purchase is buffered
    assert "coupon" not in by_node["tag"].context
    assert by_node["coupon"].context["coupon"]["coupon_id"]
    assert any(e["type"] == "purchase" for e in by_node["buy"].events)

    # no worker now: the history replay gives the same explanation
    gateway = TemporalGateway(settings=None, client=env.client)  # type: ignore[arg-type]
    problems: list[str] = []
    replayed = await explain_workflow(
        temporal=gateway,
        workflow_id=workflow_id,
        journey=journey,
        journey_id=journey_id,
        version=1,
        problems=problems,
    )
    assert replayed is not None and replayed.source == "history", problems
    assert replayed.path == live.path

    with use_locale("zh-CN"):
        notes = {s.node_id: step_note(s, live.timezone) for s in live.steps}
        assert notes["rfm"].startswith("分支: ")
        assert notes["coupon"].startswith("优惠券 ") and "到期" in notes["coupon"]
        assert notes["call"] == "任务完成 · 有意向"  # the outcome in words, no task id
        assert current_note(live, {}) == "已结束：达成目标"

    # the run page, through the app, with the worker gone (history fallback)
    with Session(canvas_app.state.engine) as session:
        add_run(session, journey_id, workflow_id)
        assert [h.run.workflow_id for h in search_runs(session=session, query=workflow_id)] == [
            workflow_id
        ]
        assert [h.run.workflow_id for h in waiting_at(session=session, journey_id=journey_id)] == [
            workflow_id
        ]
    canvas_app.state.temporal = gateway
    with TestClient(canvas_app) as client:
        client.cookies.set(*canvas_app.state.test_login)
        page = client.get(f"/runs/{workflow_id}", headers={"Accept-Language": "zh-CN"})
        assert page.status_code == 200, page.text[:500]
        assert "/namespaces/default/workflows/" in page.text and "已结束：达成目标" in page.text
        boot = json.loads(page.text.split('id="canvas-boot">')[1].split("</script>")[0])
        page_notes = [s["note"] for s in boot["run"]["steps"]]
        assert any(n.startswith("分支: ") for n in page_notes), page_notes
        client.get("/api/schema/journey.json")
        client.headers["X-CSRF-Token"] = client.cookies["journeys_csrf"]
        verdict = client.post(f"/runs/{workflow_id}/replay", headers={"HX-Request": "true"})
        assert verdict.status_code == 200 and "notice ok" in verdict.text, verdict.text
