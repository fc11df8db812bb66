"""Benchmark: a test run of the second-purchase template with a 30-day script.

    python -m bench.test_run

Compiles the template as a draft, runs it through the real interpreter under the virtual
clock with sandbox providers (services.test_runs, the editor's "Test run"), builds the run
explanation with per-step states, and prints the wall time. Last line: ``test_run_ms=…``
(target < 5000).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from db.seed_data import COUPON_TEMPLATES
from engine.effects import CustomerFacts
from engine.simulation import CouponTemplateSpec
from services.test_runs import compile_draft, parse_script, run_test
from templates_lib import instantiate

SCRIPT = """\
browse on day 1
store_visit on day 3 15:00
task outcome will_visit on day 28 15:00
purchase ¥300 on day 29 16:00
"""


async def main() -> float:
    began = time.perf_counter()
    coupons = {
        tid: CouponTemplateSpec(tid, face, min_spend, days, stock)
        for tid, _n, face, min_spend, days, stock in COUPON_TEMPLATES
    }
    journey = compile_draft(
        instantiate("second_purchase"), journey_id="second_purchase", coupon_templates=set(coupons)
    )
    facts = CustomerFacts("C000001", name="李女士", guide_id="G1", rfm_class="一般发展")
    result = await run_test(
        journey,
        facts,
        coupon_templates=coupons,
        script=parse_script(SCRIPT),
        start=datetime(2026, 11, 2, 2, 0, tzinfo=UTC),
    )
    elapsed = (time.perf_counter() - began) * 1000
    path = " → ".join(result.explanation.path)
    print(f"path: {path}")
    print(f"status={result.explanation.status} goal={result.explanation.goal_reached}")
    print(f"steps={len(result.explanation.steps)} simulate_ms={result.elapsed_ms:.1f}")
    print(f"test_run_ms={elapsed:.1f}")
    return elapsed


if __name__ == "__main__":
    asyncio.run(main())
