"""A small shop for the activity tests, and a scripted webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities import JourneyActivities, sign
from db.models import CouponTemplate, Customer, Guide, Region, Store
from engine.effects import EffectContext, idempotency_key
from settings import Settings

NOW = datetime(2025, 6, 1, 2, 0, tzinfo=UTC)
SECRET = "test-webhook-secret"


@pytest.fixture
def shop(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """S1 has manager GM and guide G1; S2 has neither. Customers:
    C1 bound to G1 · C2 unbound in S1 · C3 in S2 · C4 opted out of SMS · C5 bound to an
    inactive guide in S1."""
    with sessions() as s:
        s.add(Region(id="R1", name="华东"))
        s.add(
            Store(
                id="S1", region_id="R1", name="上海南京西路店", city="上海", manager_guide_id="GM"
            )
        )
        s.add(Store(id="S2", region_id="R1", name="杭州湖滨店", city="杭州"))
        s.commit()
        s.add(Guide(id="GM", store_id="S1", name="陈店长", role="store_manager"))
        s.add(Guide(id="G1", store_id="S1", name="王芳"))
        s.add(Guide(id="GX", store_id="S1", name="离职导购", active=False))
        s.commit()
        for cid, store, guide, opted_out in (
            ("C1", "S1", "G1", []),
            ("C2", "S1", None, []),
            ("C3", "S2", None, []),
            ("C4", "S1", "G1", ["sms"]),
            ("C5", "S1", "GX", []),
        ):
            s.add(
                Customer(
                    id=cid,
                    name=f"李{cid}",
                    phone="13800001234",
                    store_id=store,
                    guide_id=guide,
                    opted_out_channels=opted_out,
                    tags=["新客"],
                    birthday=date(1990, 6, 15),
                    member_level="gold",
                )
            )
        s.add(
            CouponTemplate(
                id="NEW20", name="新客二回券", face_value=20, min_spend=199, validity_days=30
            )
        )
        s.add(
            CouponTemplate(
                id="VIP100", name="VIP", face_value=100, min_spend=999, validity_days=30, stock=1
            )
        )
        s.commit()
    return sessions


@pytest.fixture
def http_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture
def acts(shop: sessionmaker[Session], http_client: httpx.Client) -> JourneyActivities:
    settings = Settings(webhook_secret=SECRET)
    return JourneyActivities(
        sessions=shop, settings=settings, http_client=http_client, clock=lambda: NOW
    )


def ctx(customer_id: str = "C1", node_id: str = "n1", visit: int = 1) -> EffectContext:
    wf = f"journey-j1-{customer_id}"
    return EffectContext(
        idempotency_key=idempotency_key(wf, "e1", node_id, visit),
        workflow_id=wf,
        journey_id="j1",
        journey_version=1,
        node_id=node_id,
        visit=visit,
        customer_id=customer_id,
    )


@dataclass
class Receiver:
    """Answers with ``statuses`` in turn (the last one repeats) and keeps what it got."""

    url: str
    statuses: list[int]
    received: list[dict[str, Any]] = field(default_factory=list)
    bad_signatures: int = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="", statuses=[200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("X-Journey-Signature") != sign(body, SECRET):
                state.bad_signatures += 1
                self.send_response(401)
                self.end_headers()
                return
            state.received.append(
                {"json": json.loads(body), "key": self.headers.get("X-Idempotency-Key")}
            )
            status = state.statuses.pop(0) if len(state.statuses) > 1 else state.statuses[0]
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 400 else b"nope")

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
