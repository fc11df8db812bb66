"""Test runs refuse a scripted task outcome the run cannot take, naming the line (issue 17
item 6): one the draft's tasks do not define, and one that comes before the task exists.
Before, both were dropped without a word and the task simply expired."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.canvas_ui.harness import create_journey, linear_document


def _with_task() -> dict:
    """entry → wait 3 days → call task (outcomes reached / no_answer) → exit."""
    doc = linear_document("回访")
    doc["nodes"] = [
        doc["nodes"][0],
        doc["nodes"][1],
        {
            "id": "call",
            "kind": "assign_guide_task",
            "label": "回访",
            "position": {"x": 300, "y": 0},
            "config": {"instructions": "打电话", "outcomes": ["reached", "no_answer"]},
        },
        {"id": "x", "kind": "exit", "label": "结束", "position": {"x": 600, "y": 0}, "config": {}},
    ]
    doc["edges"] = [
        {"id": "e1", "source": "entry", "source_port": "next", "target": "wait"},
        {"id": "e0", "source": "wait", "source_port": "next", "target": "call"},
        {"id": "e2", "source": "call", "source_port": "reached", "target": "x"},
        {"id": "e3", "source": "call", "source_port": "no_answer", "target": "x"},
        {"id": "e4", "source": "call", "source_port": "expired", "target": "x"},
    ]
    return doc


def test_outcomes_the_run_cannot_take_are_refused_with_their_line(client: TestClient) -> None:
    jid = create_journey(client, _with_task())
    ok = client.post(
        f"/journeys/{jid}/test-run", json={"script": "task outcome reached on day 3.5"}
    )
    assert ok.status_code == 200, ok.text
    assert any(s["port"] == "reached" for s in ok.json()["run"]["steps"])
    undefined = client.post(
        f"/journeys/{jid}/test-run",
        json={"script": "browse on day 1\ntask outcome interested on day 3.5"},
    )
    assert undefined.status_code == 422
    detail = undefined.json()["detail"]
    assert detail.startswith("line 2:") and "'interested'" in detail
    assert "no_answer" in detail and "reached" in detail
    # the task opens at entry and expires after 48 h: an outcome on day 3 comes too late
    late = client.post(
        f"/journeys/{jid}/test-run", json={"script": "task outcome reached on day 3"}
    )
    assert late.status_code == 422
    assert late.json()["detail"].startswith("line 1:")
    assert "no guide task is open on day 3" in late.json()["detail"]
