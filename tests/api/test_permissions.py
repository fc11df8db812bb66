"""Every role sees only what it should, enforced by the server on pages and API alike."""

# ruff: noqa: F811  (pytest fixtures imported from tests.tasks.conftest)

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from canvas_ui.app import create_app
from canvas_ui.middleware import CSRF_COOKIE, CSRF_HEADER
from services.accounts import Principal
from settings import Settings
from tests.tasks.conftest import (  # noqa: F401 - fixtures
    make_task,
    people,
    shop,
)

API_KEY = "machine-key-123"


@pytest.fixture
def app(engine: Engine, db_url: str, shop: sessionmaker[Session], people: Any) -> Iterator[Any]:
    settings = Settings(database_url=db_url, secret_key="perm-secret", events_api_key=API_KEY)
    yield create_app(settings, temporal=None, engine=engine)


@pytest.fixture
def ids(shop: sessionmaker[Session]) -> dict[str, str]:
    now = datetime.now(UTC)  # inside the dashboards' default period
    with shop() as s:
        return {
            f"{g.lower()}_task": make_task(
                s, customer_id=c, guide_id=g, store_id=st, created_at=now
            ).id
            for c, g, st in (("C1", "G1", "S1"), ("C2", "G2", "S1"), ("C3", "H1", "S2"))
        }


def signed_out(app: Any) -> TestClient:
    """A client that has not signed in yet, holding a CSRF token."""
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
    return client


def signed_in(app: Any, username: str) -> TestClient:
    client = signed_out(app)
    response = client.post("/login", data={"username": username, "password": "pw-" + username})
    assert response.status_code == 303, response.text
    return client


def test_anonymous_gets_the_login_page_or_401(app: Any) -> None:
    client = TestClient(app, follow_redirects=False)
    page = client.get("/workbench", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/workbench"
    assert client.get("/api/tasks").status_code == 401
    assert client.get("/api/journeys").status_code == 401
    assert client.get("/login").status_code == 200


def test_wrong_password_and_logout(app: Any, people: dict[str, Principal]) -> None:
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
    bad = client.post("/login", data={"username": "g1", "password": "nope"})
    assert bad.status_code == 422 and "journeys_session" not in bad.cookies
    good = client.post("/login", data={"username": "g1", "password": "pw-g1", "next": "//evil"})
    assert good.status_code == 303 and good.headers["location"] == "/workbench"
    assert client.get("/api/me").json()["guide_id"] == "G1"
    cookie = client.cookies["journeys_session"]
    client.post("/logout")
    # the old cookie is dead even if someone kept it
    other = TestClient(app)
    other.cookies.set("journeys_session", cookie)
    assert other.get("/api/me").status_code == 401


@pytest.mark.parametrize(
    ("path", "own", "other"),
    [
        ("/api/tasks/{id}", "g1_task", "g2_task"),
        ("/workbench/tasks/{id}", "g1_task", "g2_task"),
        ("/api/customers/{id}", "C1", "C2"),
        ("/workbench/customers/{id}", "C1", "C2"),
    ],
)
def test_guide_cannot_open_another_guides_task_or_customer(
    app: Any, ids: dict[str, str], path: str, own: str, other: str
) -> None:
    guide = signed_in(app, "g1")
    mine = guide.get(path.format(id=ids.get(own, own)))
    theirs = guide.get(path.format(id=ids.get(other, other)))
    assert mine.status_code == 200, mine.text
    assert theirs.status_code in (403, 404)
    assert "顾客C2" not in theirs.text


def test_guide_cannot_act_on_another_guides_task(app: Any, ids: dict[str, str]) -> None:
    guide = signed_in(app, "g1")
    other = ids["g2_task"]
    for method, path, body in (
        ("post", f"/api/tasks/{other}/outcome", {"outcome": "interested"}),
        ("post", f"/api/tasks/{other}/contact", {"result": "interested"}),
        ("post", f"/api/tasks/{other}/message", None),
        ("post", f"/api/tasks/{other}/snooze", {"until": "23:59"}),
    ):
        response = getattr(guide, method)(path, json=body)
        assert response.status_code == 404, (path, response.text)
    form = guide.post(f"/workbench/tasks/{other}/contact", data={"result": "interested"})
    assert form.status_code == 404
    assert [t["id"] for t in guide.get("/api/tasks").json()] == [ids["g1_task"]]
    assert guide.get("/api/tasks", params={"guide_id": "G2"}).json() == []


def test_guide_cannot_open_hq_pages(app: Any) -> None:
    guide = signed_in(app, "g1")
    for path in ("/journeys", "/tasks", "/customers", "/api/journeys", "/api/runs", "/api/outbox"):
        assert guide.get(path).status_code == 403, path
    assert guide.get("/").headers["location"] == "/workbench"
    chase = guide.post("/api/tasks/chase", json={"scope": "guide", "scope_id": "G1"})
    assert chase.status_code == 403


def test_store_manager_sees_their_store_only(app: Any, ids: dict[str, str]) -> None:
    manager = signed_in(app, "manager")
    assert manager.get(f"/api/tasks/{ids['g2_task']}").status_code == 200
    assert manager.get(f"/api/tasks/{ids['h1_task']}").status_code == 404
    assert manager.get("/api/customers/C3").status_code == 404
    assert {t["store_id"] for t in manager.get("/api/tasks").json()} == {"S1"}
    assert manager.get("/tasks").status_code == 200
    assert manager.get("/journeys").status_code == 403
    moved = manager.post(f"/api/tasks/{ids['g1_task']}/reassign", json={"guide_id": "G2"})
    assert moved.status_code == 200 and moved.json()["guide_id"] == "G2"
    elsewhere = manager.post(f"/api/tasks/{ids['h1_task']}/reassign", json={"guide_id": "G2"})
    assert elsewhere.status_code == 404
    cross = manager.post(f"/api/tasks/{ids['g2_task']}/reassign", json={"guide_id": "H1"})
    assert cross.status_code == 422
    guide = signed_in(app, "g1")
    assert (
        guide.post(f"/api/tasks/{ids['g1_task']}/reassign", json={"guide_id": "G1"}).status_code
        == 404
    )  # it is G2's now


def test_hq_sees_everything(app: Any, ids: dict[str, str]) -> None:
    hq = signed_in(app, "hq")
    assert len(hq.get("/api/tasks").json()) == 3
    assert hq.get(f"/api/tasks/{ids['h1_task']}").status_code == 200
    assert hq.get("/api/customers/C3").status_code == 200
    assert hq.get("/tasks").status_code == 200
    assert hq.get("/journeys").status_code == 200
    assert hq.get("/workbench").status_code == 403  # HQ has no task list of its own
    csv_ = hq.get("/api/tasks/report.csv")
    assert csv_.status_code == 200 and "S2" in csv_.text


def _nav_links(html: str) -> list[str]:
    nav = html.split('<nav class="mainnav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="([^"]+)"', nav)


def test_the_nav_offers_only_pages_the_user_may_open(app: Any) -> None:
    hq = signed_in(app, "hq")
    links = _nav_links(hq.get("/journeys").text)
    assert links == [
        "/journeys",
        "/templates",
        "/segments",
        "/tasks",
        "/reports/attribution",
        "/customers",
        "/runs",
        "/outbox",  # the messages and their delivery (issue 16)
        "/policy",  # the contact policy (issue 15): admin and HQ
        "/approvals",
        "/audit",
    ]
    assert all(hq.get(link).status_code == 200 for link in links)
    manager = signed_in(app, "manager")
    links = _nav_links(manager.get("/tasks").text)
    assert links == ["/tasks", "/reports/attribution", "/outbox", "/workbench"]
    assert all(manager.get(link).status_code == 200 for link in links)


def test_events_take_an_api_key_or_an_hq_session_with_csrf(app: Any) -> None:
    """Past the gate means anything but 401/403 (no Temporal here, so 503 is fine)."""
    event = {
        "event_id": "e1",
        "customer_id": "C1",
        "type": "browse",
        "occurred_at": "2026-03-02T02:00:00Z",
    }
    machine = TestClient(app)
    assert machine.post("/api/events", json=event).status_code == 401
    wrong = machine.post("/api/events", json=event, headers={"X-API-Key": "wrong"})
    assert wrong.status_code == 401
    right = machine.post("/api/events", json=event, headers={"X-API-Key": API_KEY})
    assert right.status_code not in (401, 403)
    hq = signed_in(app, "hq")
    assert hq.post("/api/events", json=event).status_code not in (401, 403)
    del hq.headers[CSRF_HEADER]
    assert hq.post("/api/events", json=event).status_code == 403
    guide = signed_in(app, "g1")
    assert guide.post("/api/events", json=event).status_code == 403
