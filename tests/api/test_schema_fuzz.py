"""Schemathesis over the app's OpenAPI schema: no 5xx, every response as documented.

The app is built like the other API tests (a fresh migrated SQLite copy, the guard that
fails any database call on the event loop) on a small demo chain: 30 customers, the coupon
templates, journeys in every status, running customers, open guide tasks, a segment and a
user template. Most generated ids are pointed at those records (``_point_at_known_records``),
the rest stay random and take the 404 paths. Temporal is down (a gateway whose connection always
fails): routes that need it must answer their documented 503, never a 500.

Every request is signed in as an admin (admins open every path HQ opens, plus the accounts
API), with the CSRF cookie and header and the events API key.

Bounded for ``make test`` on a small machine: a few examples per operation in the fuzzing
phase besides the examples and coverage phases, derandomized (the same cases every run),
no shrinking, no example database.
"""

from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis import Case
from sqlalchemy import create_engine
from sqlmodel import Session, col, select

from canvas_ui import create_app
from canvas_ui.middleware import CSRF_COOKIE, CSRF_HEADER
from db import crud
from db.models import Customer, GuideTask, UserAccount, utcnow
from db.seed import seed_demo
from db.session import guard_event_loop
from services import accounts
from settings import Settings
from templates_lib import all_templates
from tests.canvas_ui.harness import (  # noqa: F401 - fixture
    TemporalDown,
    canvas_db_template,
    linear_document,
)

EVENTS_KEY = "fuzz-events-key"
#: examples per operation in the fuzzing phase (the coverage phase adds its boundary cases)
MAX_EXAMPLES = 20
#: ids of records that exist, by parameter name (filled by the ``fuzz`` fixture)
KNOWN: dict[str, list[Any]] = {}
#: never a generated id: the fuzzer's own account (a new password would end its session)
PROTECTED: set[Any] = set()
TURNS = itertools.count()


@dataclass
class Fuzz:
    app: FastAPI
    headers: dict[str, str]


def _openapi() -> dict[str, Any]:
    """The app's OpenAPI document (it depends on the routes only: no database is opened)."""
    settings = Settings(demo=True, secret_key="schema-only", reconcile_interval_seconds=0)
    app = create_app(settings, temporal=None, engine=create_engine("sqlite://"))
    return app.openapi()


schema = schemathesis.openapi.from_dict(
    _openapi(),
    config=schemathesis.Config.from_dict(
        {
            "seed": 20261123,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
            },
            # operations one by one; a sequence of calls would need links in the schema
            "phases": {"stateful": {"enabled": False}},
            "checks": {
                "enabled": False,
                # 503 (Temporal down) passes here, and status_code_conformance allows it
                # only where the operation documents it; any other 5xx fails
                "not_a_server_error": {
                    "enabled": True,
                    "expected-statuses": ["1XX", "2XX", "3XX", "4XX", "503"],
                },
                "status_code_conformance": {"enabled": True},
                "content_type_conformance": {"enabled": True},
                "response_schema_conformance": {"enabled": True},
            },
        }
    ),
)


def _known(name: str, value: Any) -> Any:
    """Three times in four an existing record's id instead of ``value``, in turn (the cases
    come in the same order every run)."""
    choices = KNOWN.get(name)
    if not choices or not isinstance(value, str | int):
        return value
    turn = next(TURNS)
    if turn % 4 == 0 and value not in PROTECTED:
        return value
    return choices[(turn // 4) % len(choices)]


def _known_ids(body: Any) -> Any:
    if isinstance(body, list):
        return [_known_ids(item) for item in body]
    if isinstance(body, dict):
        for key in ("customer_id", "guide_id", "outcome", "result", "role"):
            if isinstance(body.get(key), str):
                body[key] = _known(key, body[key])
        if isinstance(body.get("customer_ids"), list):
            body["customer_ids"] = [_known("customer_id", c) for c in body["customer_ids"]]
    return body


def _point_at_known_records(case: Case) -> None:
    """Most generated ids (path and body) become records that exist (done in the test, not
    in a ``map_case`` hook, so the coverage phase's cases get it too)."""
    for name, value in (case.path_parameters or {}).items():
        case.path_parameters[name] = _known(name, value)
    if isinstance(case.body, dict | list):
        case.body = _known_ids(case.body)


def _world(app: FastAPI, client: TestClient) -> None:
    """Journeys in every status, running customers with open tasks, a segment, a user
    template; their ids into :data:`KNOWN`."""
    journeys = {}
    for status in ("draft", "live", "paused", "archived"):
        created = client.post(
            "/api/journeys", json={"name": f"新客二回 {status}", "document": linear_document()}
        )
        assert created.status_code == 201, created.text
        journeys[status] = created.json()["id"]
    for status in ("live", "paused"):
        published = client.post(f"/api/journeys/{journeys[status]}/publish")
        assert published.status_code == 200, published.text
    segment = client.post(
        "/api/segments",
        json={
            "id": "dormant_90d",
            "name": "沉睡90天",
            "definition": {
                "rules": [{"type": "field", "field": "r_days", "op": "gte", "value": 90}]
            },
        },
    )
    assert segment.status_code == 201, segment.text
    template = client.post(f"/api/journeys/{journeys['draft']}/save-as-template", json={})
    assert template.status_code == 201, template.text

    with Session(app.state.engine, expire_on_commit=False) as session:
        # pause and archive reach Temporal, which is down
        for status in ("paused", "archived"):
            crud.set_status(session=session, journey_id=journeys[status], status=status, by="fuzz")
        customers = session.exec(
            select(Customer).where(col(Customer.guide_id).is_not(None)).order_by(col(Customer.id))
        ).all()[:12]  # enough open tasks to outlast the outcomes that close some
        workflow_ids, task_ids = [], []
        for customer in customers:
            workflow_id = f"journey-{journeys['live']}-{customer.id}"
            crud.create_run(
                session=session,
                workflow_id=workflow_id,
                journey_id=journeys["live"],
                journey_version=1,
                customer_id=customer.id,
                current_node="coupon",
            )
            task = GuideTask(
                id=uuid.uuid4().hex,
                idempotency_key=f"fuzz/{customer.id}",
                customer_id=customer.id,
                guide_id=customer.guide_id or "",
                store_id=customer.store_id,
                journey_id=journeys["live"],
                journey_version=1,
                node_id="coupon",
                workflow_id=workflow_id,
                task_type="call",
                title=f"回访 {customer.name}",
                instructions="您好，您的20元券三天后到期",
                outcomes=["interested", "declined"],
                due_at=utcnow() + timedelta(days=1),
                scheduled_for=utcnow().date(),
            )
            session.add(task)
            workflow_ids.append(workflow_id)
            task_ids.append(task.id)
        session.commit()
        accounts_ = session.exec(select(UserAccount).order_by(col(UserAccount.id))).all()
        user_ids = [a.id for a in accounts_ if a.id not in PROTECTED]
        guide_ids = sorted({c.guide_id for c in customers if c.guide_id})

    KNOWN.update(
        journey_id=list(journeys.values()),
        workflow_id=workflow_ids,
        task_id=task_ids,
        customer_id=[c.id for c in customers],
        guide_id=guide_ids,
        segment_id=["dormant_90d"],
        template_id=[template.json()["id"], *(t.id for t in all_templates())],
        user_id=user_ids,
        version=[1],
        # values the bodies must name: a task's outcomes, a contact's results, a role
        outcome=["interested", "declined"],
        result=["reached", "not_reached", "interested"],
        role=["hq", "guide", "store_manager"],
    )


@pytest.fixture(scope="module")
def fuzz(
    canvas_db_template: Path,  # noqa: F811 - fixture
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fuzz]:
    data_dir = tmp_path_factory.mktemp("fuzz")
    shutil.copy(canvas_db_template, data_dir / "journeys.db")
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'journeys.db'}",
        secret_key="fuzz-secret-key",
        events_api_key=EVENTS_KEY,
        reconcile_interval_seconds=0,
    )
    app = create_app(settings, temporal=TemporalDown(settings))
    seed_demo(session_or_engine=app.state.engine, customers=30)
    accounts.seed_demo_users(session_or_engine=app.state.engine)
    with Session(app.state.engine, expire_on_commit=False) as session:
        admin = accounts.create_user(
            session=session, username="fuzz-admin", password="fuzz-pass", role="admin"
        )
        _principal, cookie = accounts.login(
            session=session, username="fuzz-admin", password="fuzz-pass", secret=settings.secret_key
        )
    PROTECTED.add(admin.id)
    guard_event_loop(app.state.engine)
    with TestClient(app) as client:
        client.cookies.set(accounts.SESSION_COOKIE, cookie)
        assert client.get("/api/me").status_code == 200
        csrf = client.cookies[CSRF_COOKIE]
        client.headers[CSRF_HEADER] = csrf
        _world(app, client)
    yield Fuzz(
        app=app,
        headers={
            "Cookie": f"{accounts.SESSION_COOKIE}={cookie}; {CSRF_COOKIE}={csrf}",
            CSRF_HEADER: csrf,
            "X-API-Key": EVENTS_KEY,
        },
    )
    KNOWN.clear()
    PROTECTED.clear()
    app.state.engine.dispose()


@schema.parametrize()
def test_api_conforms_to_its_schema(case: Case, fuzz: Fuzz) -> None:
    _point_at_known_records(case)
    response = case.call_and_validate(app=fuzz.app, headers=fuzz.headers)
    if response.status_code == 503:
        assert response.headers.get("retry-after"), "a 503 says when to try again"
