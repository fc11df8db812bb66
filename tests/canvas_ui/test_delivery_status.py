"""A message's delivery status where people read it (issue 16): the run view's steps (note
and result, as the message stands now) and the outbox API (``delivery``; test sends only on
request; a bad status filter is a 422)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from canvas_ui.delivery import annotate_steps
from canvas_ui.i18n import use_locale
from db.models import Customer, OutboxMessage

AT = datetime(2026, 11, 30, 1, 5, tzinfo=UTC)  # 09:05 in Shanghai


def _seed(app: FastAPI) -> None:
    with Session(app.state.engine) as s:
        s.add(Customer(id="C7", name="赵女士", phone="13800007007"))
        s.commit()
        for mid, status, extra in (
            ("m1", "delivered", {"delivered_at": AT, "status_detail": "DELIVRD"}),
            ("m2", "failed", {"failed_at": AT, "status_detail": "UNDELIV:MK:0001"}),
            ("m3", "sent", {}),
            ("t1", "sent", {"is_test": True}),
        ):
            s.add(
                OutboxMessage(
                    id=mid,
                    idempotency_key=f"k-{mid}",
                    customer_id="C7",
                    channel="sms",
                    body="hi",
                    status=status,
                    journey_id="j1",
                    created_at=AT,
                    sent_at=AT,
                    **extra,
                )
            )
        s.commit()


def test_run_steps_show_the_delivery_status_now(canvas_app: FastAPI, client: TestClient) -> None:
    _seed(canvas_app)
    steps: list[dict[str, Any]] = [
        {"node_id": "msg", "note": "SMS sent", "result": {"message_id": "m1", "status": "sent"}},
        {"node_id": "msg2", "note": "SMS sent", "result": {"message_id": "m2", "status": "sent"}},
        {"node_id": "wait", "note": "Wait 1 day", "result": {}},
    ]
    with Session(canvas_app.state.engine) as s, use_locale("en"):
        annotate_steps(s, steps, "Asia/Shanghai")
    assert steps[0]["note"] == "SMS sent · delivered 11-30 09:05"
    assert steps[0]["delivery"]["status"] == "delivered"
    assert steps[1]["result"]["delivery"] == "failed 11-30 09:05: UNDELIV:MK:0001"
    assert "delivery" not in steps[2]


def test_outbox_api_carries_the_delivery_status(canvas_app: FastAPI, client: TestClient) -> None:
    _seed(canvas_app)
    rows = client.get("/api/outbox?customer_id=C7").json()
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"m1", "m2", "m3"}  # the test send only on request
    assert by_id["m1"]["delivery"]["status"] == "delivered"
    assert by_id["m1"]["delivery"]["detail"] == "DELIVRD"
    assert by_id["m2"]["delivery"]["detail"] == "UNDELIV:MK:0001"
    assert by_id["m3"]["delivery"]["label"] == "sent"
    with_tests = client.get("/api/outbox?customer_id=C7&tests=true").json()
    assert {r["id"] for r in with_tests} == {"m1", "m2", "m3", "t1"}
    failed = client.get("/api/outbox?status=failed").json()
    assert [r["id"] for r in failed] == ["m2"]
    bad = client.get("/api/outbox?status=lost")
    assert bad.status_code == 422 and "status" in bad.text
    assert client.get("/api/outbox?limit=0").status_code == 422
