"""The fault run of ``bench.faults`` at a small scale: a live install (dev server, worker and
web app as real processes) loses and doubles nothing while the worker, the web app (with
requests in flight) and the Temporal dev server (with customers waiting) are SIGKILLed and
started again.

About a minute on an idle machine: real processes and a real outage (the server stays down
longer than the app's RPC timeout, so the events posted meanwhile are answered 503).
"""

from __future__ import annotations

from bench import faults


async def test_nothing_lost_or_doubled_when_every_process_is_killed() -> None:
    figures = await faults.run(
        faults.Options(
            customers=60,
            waiting=20,
            worker_kills=1,
            web_kills=1,
            server_kills=1,
            producers=6,
            retry_after_cap=2.0,
            outage_s=12.0,
            settle_s=60.0,
        )
    )
    assert (figures["worker_kills"], figures["web_kills"], figures["server_kills"]) == (1, 1, 1)
    assert figures["in_flight_at_web_kill"] > 0, figures
    assert figures["responses_503"] > 0, figures  # the outage was seen by the producers
    assert figures["errors_5xx"] == 0, figures
    assert figures["lost"] == 0, figures
    assert figures["duplicates"] == 0, figures
    assert figures["stock_drift"] == 0, figures
