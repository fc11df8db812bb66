"""Canvas benchmark: open a 300-node journey in Chromium, and the save + compile round trip.

    python -m bench.canvas [--nodes 300] [--runs 5]

``open_ms``: from navigation start to ``window.__canvasReady`` (set by canvas.js once X6 has
rendered the graph and it takes input), median over ``--runs`` after one warm-up load.
``save_compile_ms``: ``PUT /api/journeys/{id}`` (the autosave) followed by
``POST …/validate`` (compile with every pass), median over ``--runs``. Targets: < 1000 ms
and < 200 ms. The last two lines printed are ``open_ms=…`` and ``save_compile_ms=…``.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from sqlmodel import Session

from canvas_ui import create_app
from db import crud
from db.migrate import upgrade
from db.models import CouponTemplateCreate, JourneyCreate
from settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
#: Single-port kinds the generated chain cycles through, with a valid config each.
CHAIN: list[tuple[str, dict[str, Any]]] = [
    ("wait", {"until": {"type": "duration", "duration": {"amount": 3, "unit": "days"}}}),
    ("send_coupon", {"coupon_template_id": "NEW20"}),
    ("send_message", {"channel": "sms", "content": "您的优惠券即将到期，欢迎到店使用"}),
    ("update_customer", {"add_tags": ["旅程触达"]}),
]


def generate(n_nodes: int) -> dict[str, Any]:
    """A valid journey of ``n_nodes``: a long chain with a branch every 10 steps, each
    branch's ``else`` going to its own exit."""
    nodes: list[dict[str, Any]] = [
        {
            "id": "entry",
            "kind": "entry",
            "label": "入口",
            "position": {"x": 0, "y": 0},
            "config": {"trigger": {"type": "manual"}},
        },
    ]
    edges: list[dict[str, Any]] = []
    prev, prev_port, i = "entry", "next", 0

    def add(kind: str, config: dict[str, Any], x: int, y: int) -> str:
        node_id = f"n{len(nodes)}"
        nodes.append(
            {
                "id": node_id,
                "kind": kind,
                "label": f"步骤 {len(nodes)}",
                "position": {"x": x, "y": y},
                "config": config,
            }
        )
        return node_id

    def link(source: str, port: str, target: str) -> None:
        edges.append(
            {"id": f"e{len(edges)}", "source": source, "source_port": port, "target": target}
        )

    while len(nodes) < n_nodes - 1:
        col, row = divmod(i, 12)
        x, y = 300 * (col + 1), 120 * row if col % 2 == 0 else 120 * (11 - row)
        i += 1
        if i % 10 == 0 and len(nodes) < n_nodes - 2:
            node = add(
                "branch",
                {
                    "rules": [
                        {"id": "vip", "label": "VIP", "conditions": [{"type": "tag", "tag": "VIP"}]}
                    ]
                },
                x,
                y,
            )
            link(prev, prev_port, node)
            exit_id = add("exit", {"goal_reached": False}, x + 150, y + 60)
            link(node, "else", exit_id)
            prev, prev_port = node, "vip"
            continue
        kind, config = CHAIN[i % len(CHAIN)]
        node = add(kind, config, x, y)
        link(prev, prev_port, node)
        prev, prev_port = node, "next"
    final = add("exit", {"goal_reached": True}, 300 * (i // 12 + 2), 0)
    link(prev, prev_port, final)
    return {
        "schema_version": 1,
        "name": f"压测旅程 {n_nodes} 步",
        "description": "",
        "settings": {},
        "nodes": nodes,
        "edges": edges,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login(app: FastAPI) -> tuple[str, str] | None:
    try:
        from services import accounts
    except ImportError:
        return None
    with Session(app.state.engine) as session:
        accounts.create_user(session=session, username="bench", password="bench-pass", role="hq")
        _p, cookie = accounts.login(
            session=session,
            username="bench",
            password="bench-pass",
            secret=app.state.settings.secret_key,
        )
    return accounts.SESSION_COOKIE, cookie


def _setup(workdir: Path, n_nodes: int) -> tuple[FastAPI, str, dict[str, Any]]:
    url = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    # a throwaway demo install: the default secrets are fine (services.preflight)
    settings = Settings(data_dir=workdir, database_url=url, demo=True)
    app = create_app(settings, temporal=None)
    document = generate(n_nodes)
    with Session(app.state.engine) as session:
        crud.create_coupon_template(
            session=session,
            template_create=CouponTemplateCreate(
                id="NEW20", name="新客20元券", face_value=20, validity_days=30
            ),
        )
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(name=document["name"], draft_document=document),
            by="bench",
        )
    app.state.bench_login = _login(app)
    return app, journey.id, document


def measure_open(base_url: str, journey_id: str, runs: int, login: Any) -> float:
    """Median ms from navigation start until the canvas is interactive."""
    from playwright.sync_api import sync_playwright

    samples = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        if login:
            context.add_cookies([{"name": login[0], "value": login[1], "url": base_url}])
        page = context.new_page()
        for run in range(runs + 1):
            page.goto(f"{base_url}/journeys/{journey_id}/edit")
            page.wait_for_function("window.__canvasReady > 0", timeout=30_000)
            if run:  # the first load warms the HTTP cache, as for a returning marketer
                samples.append(float(page.evaluate("window.__canvasReady")))
        browser.close()
    return statistics.median(samples)


def measure_save_compile(
    base_url: str, journey_id: str, document: dict[str, Any], runs: int, login: Any
) -> float:
    """Median ms of autosave (PUT draft) + validate (compile) of the whole document."""
    samples = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        if login:
            client.cookies.set(*login)
        client.get("/api/schema/journey.json")
        client.headers["X-CSRF-Token"] = client.cookies["journeys_csrf"]
        for run in range(runs + 1):
            document["nodes"][1]["label"] = f"步骤 1 · {run}"  # a real change each time
            start = time.perf_counter()
            put = client.put(f"/api/journeys/{journey_id}", json=document)
            check = client.post(f"/api/journeys/{journey_id}/validate")
            took = (time.perf_counter() - start) * 1000
            put.raise_for_status()
            check.raise_for_status()
            if not check.json()["ok"]:
                raise SystemExit(f"generated journey is invalid: {check.json()['diagnostics'][:3]}")
            if run:
                samples.append(took)
    return statistics.median(samples)


def main() -> None:
    """Run both measurements and print the result lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="journeys-bench-canvas-") as tmp:
        app, journey_id, document = _setup(Path(tmp), args.nodes)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise SystemExit("uvicorn did not start")
            time.sleep(0.02)  # startup poll of our own server, not a timing wait
        base_url = f"http://127.0.0.1:{port}"
        login = app.state.bench_login
        try:
            open_ms = measure_open(base_url, journey_id, args.runs, login)
            save_ms = measure_save_compile(base_url, journey_id, document, args.runs, login)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            app.state.engine.dispose()
    print(f"nodes={len(document['nodes'])} edges={len(document['edges'])} runs={args.runs}")
    print(f"open_ms={open_ms:.0f}")
    print(f"save_compile_ms={save_ms:.0f}")


if __name__ == "__main__":
    main()
