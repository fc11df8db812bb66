"""The outbox page (issue 16): who may open it (a manager: the store's customers only),
the filters, the counts per status, pages newest first, and bad filter values as a 422
naming the field; on SQLite and PostgreSQL."""

# ruff: noqa: F811  (pytest fixtures imported from tests.tasks.conftest)

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from canvas_ui.app import create_app
from db.models import JourneyRun, JourneyVersion, OutboxMessage
from settings import Settings
from tests.api.test_permissions import signed_in
from tests.tasks.conftest import people, shop  # noqa: F401 - fixtures

AT = datetime(2026, 11, 30, 1, 5, tzinfo=UTC)  # 09:05 in Shanghai
DOCUMENT = {"nodes": [{"id": "n_sms", "kind": "send_message", "label": "券到期提醒"}]}


@pytest.fixture
def app(engine: Engine, db_url: str, shop: sessionmaker[Session], people: Any) -> Iterator[Any]:
    settings = Settings(database_url=db_url, secret_key="outbox-secret", timezone="Asia/Shanghai")
    yield create_app(settings, temporal=None, engine=engine)


def _message(mid: str, customer_id: str, status: str, at: datetime, **extra: Any) -> OutboxMessage:
    return OutboxMessage(
        id=mid,
        idempotency_key=f"k-{mid}",
        customer_id=customer_id,
        channel=extra.pop("channel", "sms"),
        body=extra.pop("body", f"您好 {mid}"),
        status=status,
        provider=extra.pop("provider", "aliyun_sms"),
        created_at=at,
        sent_at=at,
        **extra,
    )


@pytest.fixture
def seeded(shop: sessionmaker[Session]) -> None:
    """C1 (S1): delivered, failed (UNDELIV), a test send; C3 (S2): sent, an e-mail a day
    earlier; all from J1's step "券到期提醒" of version 1."""
    with shop() as s:
        s.add(
            JourneyVersion(
                journey_id="J1", version=1, document=DOCUMENT, compiled={}, content_hash="h"
            )
        )
        s.commit()
        s.add(
            JourneyRun(
                workflow_id="wf-c1",
                journey_id="J1",
                journey_version=1,
                customer_id="C1",
                entered_at=AT - timedelta(days=3),
            )
        )
        s.commit()
        common = {"journey_id": "J1", "node_id": "n_sms", "workflow_id": "wf-c1"}
        s.add(
            _message(
                "m1", "C1", "delivered", AT, delivered_at=AT, status_detail="DELIVRD", **common
            )
        )
        s.add(
            _message(
                "m2",
                "C1",
                "failed",
                AT + timedelta(minutes=1),
                failed_at=AT + timedelta(minutes=2),
                status_detail="UNDELIV:MK:0001 空号",
                **common,
            )
        )
        s.add(_message("t1", "C1", "sent", AT + timedelta(minutes=3), is_test=True, **common))
        s.add(_message("m3", "C3", "sent", AT + timedelta(minutes=4), journey_id="J2"))
        s.add(
            _message(
                "m4",
                "C3",
                "recorded",
                AT - timedelta(days=1),
                channel="email",
                provider="smtp",
                body="长" * 200,
            )
        )
        s.commit()


def _ids(html: str) -> list[str]:
    return re.findall(r'data-message="([^"]+)"', html)


def _counts(html: str) -> dict[str, int]:
    return {s: int(n) for s, n in re.findall(r'data-status="(\w+)" data-count="(\d+)"', html)}


def test_hq_sees_every_message_newest_first_in_words(app: Any, seeded: None) -> None:
    hq = signed_in(app, "hq")
    page = hq.get("/outbox")
    assert page.status_code == 200
    assert _ids(page.text) == ["m3", "m2", "m1", "m4"]  # the test send left out
    assert _counts(page.text) == {"recorded": 1, "sent": 1, "delivered": 1, "failed": 1}
    row = page.text.split('data-message="m2"', 1)[1].split("</tr>", 1)[0]
    assert "顾客C1" in row and 'href="/customers?q=C1"' in row
    assert "新客二回" in row and "· 券到期提醒" in row  # the step's label, not its id
    assert "UNDELIV:MK:0001 空号" in row and "aliyun_sms" in row
    assert "11-30 09:07" in row or "2026-11-30 09:07" in row  # failed at, Shanghai time
    long_row = page.text.split('data-message="m4"', 1)[1].split("</tr>", 1)[0]
    assert "…" in long_row  # the body truncated, the whole text in the title
    with_tests = hq.get("/outbox?tests=1").text
    assert _ids(with_tests) == ["m3", "t1", "m2", "m1", "m4"]
    assert 'class="badge test-send"' in with_tests


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=failed", ["m2"]),
        ("channel=email", ["m4"]),
        ("journey_id=J1", ["m2", "m1"]),
        ("customer=C3", ["m3", "m4"]),
        ("customer=顾客C1", ["m2", "m1"]),
        ("customer=138000", ["m3", "m2", "m1", "m4"]),  # phone prefix
        ("from=2026-11-30&to=2026-11-30", ["m3", "m2", "m1"]),
        ("to=2026-11-29", ["m4"]),
        ("status=failed&channel=email", []),
    ],
)
def test_filters(app: Any, seeded: None, query: str, expected: list[str]) -> None:
    page = signed_in(app, "admin").get(f"/outbox?{query}")
    assert page.status_code == 200
    assert _ids(page.text) == expected


def test_counts_are_for_the_filtered_period_whatever_the_status(app: Any, seeded: None) -> None:
    html = signed_in(app, "hq").get("/outbox?status=failed&from=2026-11-30").text
    assert _counts(html) == {"recorded": 0, "sent": 1, "delivered": 1, "failed": 1}


def test_a_filter_change_answers_the_table_only(app: Any, seeded: None) -> None:
    response = signed_in(app, "hq").get("/outbox?status=delivered", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="outbox-table"')
    assert _ids(response.text) == ["m1"]


def test_a_store_manager_sees_the_stores_customers_a_guide_nothing(app: Any, seeded: None) -> None:
    manager = signed_in(app, "manager")  # S1: C1, C2, C4
    page = manager.get("/outbox")
    assert page.status_code == 200
    assert _ids(page.text) == ["m2", "m1"]
    assert 'href="/customers' not in page.text  # the customer lookup is HQ's
    assert _ids(manager.get("/outbox?customer=C3").text) == []
    assert _ids(signed_in(app, "manager2").get("/outbox").text) == ["m3", "m4"]
    assert signed_in(app, "g1").get("/outbox").status_code == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=lost", "status"),
        ("channel=fax", "channel"),
        ("journey_id=NOPE", "journey_id"),
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=2026-12-02&to=2026-12-01", "to"),
        ("tests=maybe", "tests"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=99999999", "page"),
        ("customer=" + "x" * 65, "customer"),
    ],
)
def test_bad_filter_values_are_a_422_naming_the_field(
    app: Any, seeded: None, query: str, field: str
) -> None:
    response = signed_in(app, "hq").get(f"/outbox?{query}")
    assert response.status_code == 422
    assert field in response.text


def test_pages_of_fifty_newest_first(app: Any, shop: sessionmaker[Session]) -> None:
    with shop() as s:
        for i in range(120):
            s.add(_message(f"p{i:03d}", "C2", "sent", AT + timedelta(seconds=i)))
        s.commit()
    hq = signed_in(app, "hq")
    first = hq.get("/outbox?customer=C2")
    assert _ids(first.text) == [f"p{i:03d}" for i in range(119, 69, -1)]
    assert "page=2" in first.text and "共 120 条消息 · 第 1 / 3 页" in first.text
    third = hq.get("/outbox?customer=C2&page=3", headers={"HX-Request": "true"})
    assert _ids(third.text) == [f"p{i:03d}" for i in range(19, -1, -1)]
    assert "page=4" not in third.text and "page=2" in third.text  # newer, no older
    assert _ids(hq.get("/outbox?customer=C2&page=4").text) == []
