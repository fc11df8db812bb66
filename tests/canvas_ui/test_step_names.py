"""Runs, the customer lookup and "who is waiting here" name steps as the canvas does."""

from __future__ import annotations

import copy

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from canvas_ui import queries
from canvas_ui.i18n import use_locale
from db import crud
from tests.canvas_ui.harness import linear_document

HX = {"HX-Request": "true"}


def test_steps_of_every_version_customers_are_on(canvas_app: FastAPI, client: TestClient) -> None:
    v1 = linear_document()
    created = client.post("/api/journeys", json={"name": v1["name"], "document": v1})
    jid = created.json()["id"]
    assert client.post(f"/api/journeys/{jid}/publish").status_code == 200
    v2 = copy.deepcopy(v1)
    v2["nodes"][1]["label"] = "等三天再说"
    v2["nodes"] = [n for n in v2["nodes"] if n["id"] != "coupon"]
    v2["edges"] = [
        {"id": "e1", "source": "entry", "source_port": "next", "target": "wait"},
        {"id": "e2", "source": "wait", "source_port": "next", "target": "exit"},
    ]
    assert client.put(f"/api/journeys/{jid}", json=v2).status_code == 200
    assert client.post(f"/api/journeys/{jid}/publish").status_code == 200
    with Session(canvas_app.state.engine) as session:
        runs = (("C1", 1, "coupon"), ("C2", 2, "wait"), ("C3", 2, "wait"), ("C4", 1, "wait"))
        for cid, version, node in runs:
            crud.create_run(
                session=session,
                workflow_id=f"wf-{cid}",
                journey_id=jid,
                journey_version=version,
                customer_id=cid,
                current_node=node,
            )
        journey = crud.get_journey(session=session, journey_id=jid)
        assert journey is not None
        with use_locale("en"):
            steps = queries.journey_steps(session=session, journey=journey)
    # v2's steps first (by v2's names), then what only v1 has: someone is still there
    assert [(s.node_id, s.name, s.waiting) for s in steps] == [
        ("entry", "Entry", 0),
        ("wait", "等三天再说", 3),
        ("exit", "Exit", 0),
        ("coupon", "Send coupon", 1),
    ]

    html = client.get(f"/runs?journey_id={jid}&node_id=coupon").text
    assert '<option value="coupon" selected>Send coupon (1 here now)</option>' in html
    assert "1 customer at “Send coupon” now." in html
    # a step the journey does not have (the journey was switched): everyone in it is listed
    page = client.get(f"/runs?journey_id={jid}&node_id=nope", headers=HX)
    assert page.status_code == 200 and page.text.count("<tr>") == 4 + 1
    assert 'id="run-step" aria-label="Step (who is waiting here)"' in page.text
    assert 'hx-swap-oob="true"' in page.text  # the steps follow the journey
    # each run is named from its own version
    cells = page.text
    assert "<td>Send coupon</td>" in cells
    assert cells.count("<td>等三天再说</td>") == 2 and cells.count("<td>等三天</td>") == 1
