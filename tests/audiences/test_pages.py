"""Segment pages: the builder renders, the live preview swaps count + sample (or the
problems, 422, naming the rule), save redirects, and the journey's enrollment page polls
its progress block while a pass runs."""

from __future__ import annotations

import inspect
import json
import threading
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import Session

from db import crud
from db.models import CouponTemplate, Segment, SegmentEnrollment, utcnow
from db.seed import seed_demo
from tests.canvas_ui.harness import create_journey, linear_document

pytest_plugins = ("tests.canvas_ui.harness",)

HX = {"HX-Request": "true"}


@pytest.fixture
def shop(canvas_app: FastAPI, client: TestClient) -> TestClient:
    with Session(canvas_app.state.engine) as session:
        session.execute(delete(CouponTemplate))
        session.commit()
        seed_demo(session_or_engine=session, customers=120)
    return client


def test_builder_preview_and_save(shop: TestClient) -> None:
    page = shop.get("/segments/new")
    assert page.status_code == 200 and 'id="rule-builder"' in page.text
    rules = {"rules": [{"type": "field", "field": "r_days", "op": "gte", "value": 30}]}
    preview = shop.post("/segments/preview", data={"definition": json.dumps(rules)}, headers=HX)
    assert preview.status_code == 200, preview.text
    assert "customers match" in preview.text, preview.text[:400]
    assert preview.text.lstrip().startswith('<section id="segment-preview"')
    bad = {"rules": [{"id": "r9", "type": "event", "event_type": "browse", "window_days": -3}]}
    refused = shop.post("/segments/preview", data={"definition": json.dumps(bad)}, headers=HX)
    assert refused.status_code == 422
    assert "Rule 1: a window of -3 days is impossible" in refused.text
    assert 'data-rule-id="r9"' in refused.text
    saved = shop.post(
        "/segments/save",
        data={
            "id": "recent_30",
            "name": "近30天",
            "definition": json.dumps(rules),
            "is_new": "true",
        },
        headers=HX,
    )
    assert saved.status_code == 204
    assert saved.headers["HX-Redirect"] == "/segments/recent_30?saved=1"
    assert "Segment “近30天” saved." in shop.get("/segments/recent_30?saved=1").text
    assert "近30天" in shop.get("/segments").text
    assert shop.get("/segments/recent_30").status_code == 200
    dup = shop.post(
        "/segments/save",
        data={"id": "recent_30", "name": "x", "definition": json.dumps(rules), "is_new": "true"},
        headers=HX,
    )
    assert dup.status_code == 422 and "exists already" in dup.text


def test_enrollment_page_polls_while_running(canvas_app: FastAPI, shop: TestClient) -> None:
    doc = linear_document("分群进入")
    doc["nodes"][0]["config"]["trigger"] = {"type": "segment", "segment_id": "dormant_90d"}
    journey_id = create_journey(shop, doc)
    idle = shop.get(f"/journeys/{journey_id}/enrollment")
    assert idle.status_code == 200 and "every 2s" not in idle.text
    editor = shop.get(f"/journeys/{journey_id}/edit").text
    assert f'id="segment-entry-link" href="/journeys/{journey_id}/enrollment"' in editor
    assert "every 3s" not in editor  # a draft: nothing runs yet
    with Session(canvas_app.state.engine) as session:
        session.add(
            SegmentEnrollment(
                journey_id=journey_id,
                journey_version=1,
                segment_id="dormant_90d",
                workflow_id="wf",
                first_run_id="r",
                total=200,
                entered=50,
                skipped=10,
                as_of=utcnow(),
            )
        )
        session.commit()
    fragment = shop.get(f"/journeys/{journey_id}/enrollment", headers=HX)
    assert fragment.text.lstrip().startswith('<section id="enrollment-progress"')
    assert 'hx-trigger="every 2s"' in fragment.text and "width: 30%" in fragment.text
    chip = shop.get(f"/journeys/{journey_id}/enrollment/chip", headers=HX).text
    assert chip.lstrip().startswith('<a class="btn ghost" id="segment-entry-link"')
    assert "every 3s" in chip and "50/200" in chip
    limits = shop.post(
        f"/journeys/{journey_id}/enrollment/limits",
        data={"max_per_run": "500", "max_per_hour": ""},
        headers=HX,
    )
    assert limits.status_code == 200
    with Session(canvas_app.state.engine) as session:
        row = crud.get_entry_limits(session=session, journey_id=journey_id)
        assert row is not None and (row.max_per_run, row.max_per_hour) == (500, None)
    wrong = shop.post(
        f"/journeys/{journey_id}/enrollment/limits", data={"max_per_run": "-1"}, headers=HX
    )
    assert wrong.status_code == 422


def test_editor_of_a_journey_without_segment_entry_has_a_hidden_chip(shop: TestClient) -> None:
    journey_id = create_journey(shop, linear_document("手动进入"))
    editor = shop.get(f"/journeys/{journey_id}/edit").text
    assert '<span id="segment-entry-link" hidden' in editor


def _segment(canvas_app: FastAPI, segment_id: str) -> Segment:
    with Session(canvas_app.state.engine) as session:
        segment = crud.get_segment(session=session, segment_id=segment_id)
        assert segment is not None
        return segment


def _set_count(canvas_app: FastAPI, segment_id: str, count: int | None, age: timedelta) -> None:
    with Session(canvas_app.state.engine) as session:
        segment = crud.get_segment(session=session, segment_id=segment_id)
        assert segment is not None
        segment.last_count = count
        segment.last_counted_at = utcnow() - age
        session.add(segment)
        session.commit()


def test_segments_list_shows_cached_counts_with_their_age(
    canvas_app: FastAPI, shop: TestClient
) -> None:
    """Issue 18, item 9: the Customers column was always "—"."""
    rules = {"rules": [{"type": "field", "field": "r_days", "op": "gte", "value": 30}]}
    expected = shop.post("/api/segments/preview", json={"definition": rules}).json()["count"]
    assert expected > 0
    created = shop.post(
        "/api/segments", json={"id": "recent_30", "name": "近30天", "definition": rules}
    )
    assert created.status_code == 201, created.text

    # never counted: the list counts nothing itself, the row asks for its count as it loads
    page = shop.get("/segments", headers={"Accept-Language": "en"})
    cell = page.text.split('id="seg-count-recent_30"')[1].split("</td>")[0]
    assert 'data-state="counting"' in cell and 'hx-trigger="load"' in cell
    assert "counting…" in cell

    answer = shop.post(
        "/segments/recent_30/count",
        data={"only_if_stale": "true"},
        headers={**HX, "Accept-Language": "en"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.lstrip().startswith('<td class="num seg-count" id="seg-count-recent_30"')
    assert f'<div class="v">{expected:,}</div>' in answer.text
    assert "counted just now" in answer.text and 'data-state="counted"' in answer.text
    assert _segment(canvas_app, "recent_30").last_count == expected
    listed = shop.get("/segments", headers={"Accept-Language": "zh-CN"}).text
    assert f'<div class="v">{expected:,}</div>' in listed and "刚刚统计" in listed
    assert 'hx-trigger="load"' not in listed  # fresh: nothing to count

    # a fresh cached count is kept by the automatic refresh, with its age ...
    _set_count(canvas_app, "recent_30", 999, timedelta(minutes=30))
    kept = shop.post(
        "/segments/recent_30/count",
        data={"only_if_stale": "true"},
        headers={**HX, "Accept-Language": "en"},
    ).text
    assert '<div class="v">999</div>' in kept and "counted 30 minutes ago" in kept
    # ... and "Count again" counts now
    again = shop.post("/segments/recent_30/count", headers={**HX, "Accept-Language": "en"}).text
    assert f'<div class="v">{expected:,}</div>' in again and "counted just now" in again

    # an old count shows, and is counted again as the row loads
    _set_count(canvas_app, "recent_30", 999, timedelta(hours=3))
    stale = shop.get("/segments").text.split('id="seg-count-recent_30"')[1].split("</td>")[0]
    assert '<div class="v">999</div>' in stale and 'hx-trigger="load"' in stale

    # editing the rules clears the count: the list counts the new rules
    edited = shop.put(
        "/api/segments/recent_30",
        json={"name": "近60天", "definition": {"rules": [{**rules["rules"][0], "value": 60}]}},
    )
    assert edited.status_code == 200, edited.text
    assert _segment(canvas_app, "recent_30").last_count is None
    assert 'data-state="counting"' in shop.get("/segments").text

    assert shop.post("/segments/nope/count", headers=HX).status_code == 404


def test_a_count_of_rules_changed_meanwhile_is_dropped(
    canvas_app: FastAPI, shop: TestClient
) -> None:
    rules = {"rules": [{"type": "field", "field": "r_days", "op": "gte", "value": 30}]}
    shop.post("/api/segments", json={"id": "s1", "name": "s1", "definition": rules})
    counted_rules_of = _segment(canvas_app, "s1").updated_at
    shop.put("/api/segments/s1", json={"name": "s1", "definition": rules})
    with Session(canvas_app.state.engine) as session:
        assert not crud.record_segment_count(
            session=session, segment_id="s1", count=5, if_updated_at=counted_rules_of
        )
        now_of = crud.get_segment(session=session, segment_id="s1")
        assert now_of is not None and now_of.last_count is None
        assert crud.record_segment_count(
            session=session, segment_id="s1", count=5, if_updated_at=now_of.updated_at
        )


def test_counting_runs_in_the_thread_pool_one_at_a_time_per_segment(
    canvas_app: FastAPI, shop: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain def route (FastAPI's thread pool), never on the event loop; a segment is
    counted by one request at a time, and a request that waited takes that result."""
    from canvas_ui.routes.segments import count_segment
    from services import segment_counts

    assert not inspect.iscoroutinefunction(count_segment)
    rules = {"rules": [{"type": "field", "field": "r_days", "op": "gte", "value": 30}]}
    shop.post("/api/segments", json={"id": "big", "name": "big", "definition": rules})
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow_count(session: Session, compiled: object) -> int:
        calls.append(1)
        started.set()
        assert release.wait(10)
        return 42

    monkeypatch.setattr(segment_counts, "count", slow_count)
    results: list[int | None] = []

    def refresh() -> None:
        with Session(canvas_app.state.engine) as session:
            results.append(segment_counts.refresh(session=session, segment_id="big").count)

    first = threading.Thread(target=refresh)
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=refresh)
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert results == [42, 42] and len(calls) == 1
