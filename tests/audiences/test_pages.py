"""Segment pages: the builder renders, the live preview swaps count + sample (or the
problems, 422, naming the rule), save redirects, and the journey's enrollment page polls
its progress block while a pass runs."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import Session

from db import crud
from db.models import CouponTemplate, SegmentEnrollment, utcnow
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
