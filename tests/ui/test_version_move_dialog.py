"""Moving waiting customers in Chromium (zh-CN): on v1's read-only view the dialog shows
where the customers waiting there land in v2 (same place, or stay where v2 has no such
node), a pick re-plans the counts, and *Move* runs the pass to the end with its progress
bar. Temporal is a stand-in that takes the signals (the workflow side is tested on the
time-skipping server in tests/workflows/test_version_move*.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session

from canvas_ui.routes import version_moves as move_routes
from db.models import JourneyRun
from tests.api.test_version_moves_api import V1, _v2


class _Handle:
    def __init__(self, told: list[tuple[str, Any]], workflow_id: str) -> None:
        self.told, self.workflow_id = told, workflow_id

    async def signal(self, name: str, arg: Any) -> None:
        self.told.append((self.workflow_id, arg))


class _Temporal:
    """Takes the move signals (what the pass sends), as a reachable server would."""

    def __init__(self) -> None:
        self.told: list[tuple[str, Any]] = []

    def get_workflow_handle(self, workflow_id: str) -> _Handle:
        return _Handle(self.told, workflow_id)


def test_move_dialog(
    page: Page,
    artifacts: Path,
    client_for: httpx.Client,
    canvas_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    temporal = _Temporal()

    async def fake_client(_gateway: Any) -> _Temporal:
        return temporal

    monkeypatch.setattr(move_routes, "temporal_client", fake_client)
    created = client_for.post("/api/journeys", json={"name": V1["name"], "document": V1})
    jid = created.json()["id"]
    assert client_for.post(f"/api/journeys/{jid}/publish").status_code == 200
    with Session(canvas_app.state.engine) as s:
        for n, node in enumerate(["w", "w", "w", "w2", "w2"], start=1):
            s.add(
                JourneyRun(
                    workflow_id=f"journey-{jid}-C{n}",
                    journey_id=jid,
                    journey_version=1,
                    customer_id=f"C{n}",
                    current_node=node,
                )
            )
        s.commit()
    assert client_for.put(f"/api/journeys/{jid}", json=_v2()).status_code == 200
    assert client_for.post(f"/api/journeys/{jid}/publish").status_code == 200

    page.goto(f"/journeys/{jid}/versions/1")
    page.locator("#move-waiting").click()
    dialog = page.locator("#move-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("迁移等待中的客户")
    expect(dialog.locator('tr[data-node="w"] [data-waiting]')).to_have_text("3")
    expect(dialog.locator('select[name="map.w"]')).to_have_value("w")
    expect(dialog.locator('tr[data-node="w"]')).to_contain_text("发券")  # not issued again
    expect(dialog.locator('select[name="map.w2"]')).to_have_value("")  # gone in v2: stays
    expect(dialog.locator("#move-summary")).to_contain_text("3 位客户迁移到 v2，2 位留在 v1")

    dialog.locator('select[name="map.w2"]').select_option("m")
    dialog.get_by_role("button", name="重新检查").click()
    expect(dialog.locator("#move-summary")).to_contain_text("5 位客户迁移到 v2，0 位留在 v1")
    page.screenshot(path=str(artifacts / "version-move-dialog.png"))

    dialog.locator("#move-apply").click()
    ask = page.locator("dialog.confirm-dialog")  # the app's own confirmation first
    expect(ask).to_contain_text("把 5 位客户从 v1 迁移到 v2")
    assert temporal.told == []
    ask.get_by_role("button", name="确认迁移").click()
    expect(dialog.locator("#move-progress [data-status]")).to_have_attribute(
        "data-status", "done", timeout=15_000
    )
    expect(dialog.locator("#move-progress [data-moved-line]")).to_contain_text("已迁移 5 位")
    expect(dialog.locator("#move-apply")).to_have_count(0)  # applied: no second button
    page.screenshot(path=str(artifacts / "version-move-done.png"))
    assert sorted(w for w, _ in temporal.told) == [f"journey-{jid}-C{n}" for n in range(1, 6)]
    signal = temporal.told[0][1]
    assert (signal.from_version, signal.node_map) == (1, {"w": "w", "w2": "m"})
    assert signal.by == "hq" and signal.journey_ref.version == 2
    assert page.errors == []  # type: ignore[attr-defined]
