"""The shared send-rate bucket: slots 1/rate apart across threads (and so across worker
processes: the schedule is one row), a hold-back after throttling, and a send that would
wait past the horizon refused instead."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from activities.channels import RateLimitedError, SendRateLimiter
from activities.channels.ratelimit import HEADROOM
from db.session import write_session_factory


class Clock:
    """A virtual clock: sleeping moves it (per thread, like real threads sleeping)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:  # the slot is the caller's business here
        pass


def test_slots_are_one_interval_apart_across_threads(engine: Engine) -> None:
    clock = Clock()
    limiters = [
        SendRateLimiter(
            write_session_factory(engine), "aliyun_sms", 200, clock=clock.time, sleep=clock.sleep
        )
        for _ in range(4)  # four "workers", one bucket
    ]
    slots: list[float] = []
    lock = threading.Lock()

    def work(limiter: SendRateLimiter) -> None:
        for _ in range(50):
            slot = limiter.acquire()
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=work, args=(lim,)) for lim in limiters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots.sort()
    assert len(slots) == 200
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    interval = 1 / (200 * (1 - HEADROOM))
    assert min(gaps) == pytest.approx(interval, rel=1e-6)
    # slots a little under the rate: never more than 200 in any second, with room to spare
    assert slots[-1] - slots[0] == pytest.approx(199 * interval, rel=1e-6)
    assert slots[-1] - slots[0] > 1.0


def test_hold_back_and_horizon(engine: Engine) -> None:
    clock = Clock()
    limiter = SendRateLimiter(
        write_session_factory(engine),
        "tencent_sms",
        10,
        horizon=2.0,
        clock=clock.time,
        sleep=clock.sleep,
    )
    assert limiter.acquire() == clock.now
    limiter.hold_back(1.5)
    assert limiter.acquire() == pytest.approx(clock.now + 1.5)
    limiter.hold_back(5.0)
    with pytest.raises(RateLimitedError, match="booked more than 2 s ahead"):
        limiter.acquire()
    clock.now += 4.0
    assert limiter.acquire() == pytest.approx(clock.now + 1.0)
