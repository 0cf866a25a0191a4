"""The event-loop lag probe: how late a sleeping task wakes, the largest of a window."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY

from provisio_common.loop_lag import LoopLagProbe


class FakeTime:
    """A clock the fake sleep advances by what it was asked plus a chosen overshoot."""

    def __init__(self) -> None:
        self.now = 100.0
        self.overshoots: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.overshoots.pop(0)


def gauge(service: str) -> float | None:
    return REGISTRY.get_sample_value("provisio_event_loop_lag_seconds", {"service": service})


async def test_the_gauge_shows_the_largest_overshoot_of_the_window() -> None:
    fake = FakeTime()
    probe = LoopLagProbe("lag-window", interval_s=1.0, window_s=3.0, clock=fake.clock, sleep=fake.sleep)
    assert gauge("lag-window") == 0.0  # the series exists from the start
    fake.overshoots = [0.0, 0.5, 0.125, 0.0, 0.0, -0.25]
    seen = []
    for _ in range(6):
        lag = await probe.measure_once()
        seen.append((lag, gauge("lag-window")))
    assert seen == [
        (0.0, 0.0),
        (0.5, 0.5),
        (0.125, 0.5),
        (0.0, 0.5),  # three measurements (3 s) still hold the 0.5 spike
        (0.0, 0.125),  # then it leaves the window
        (0.0, 0.0),  # a timer that fires early is no lag, not a negative one
    ]


async def test_run_measures_until_stopped() -> None:
    fake = FakeTime()
    stop = asyncio.Event()
    probe = LoopLagProbe("lag-run", interval_s=1.0, clock=fake.clock, sleep=fake.sleep)
    fake.overshoots = [0.25, 0.75]

    async def sleep_then_stop(seconds: float) -> None:
        await FakeTime.sleep(fake, seconds)
        if not fake.overshoots:
            stop.set()

    probe.sleep = sleep_then_stop
    await probe.run(stop)
    assert gauge("lag-run") == 0.75


def hold_the_loop(seconds: float) -> None:
    """A callback that blocks the event loop (what the probe exists to notice)."""
    time.sleep(seconds)


async def test_a_blocked_loop_shows_as_lag_on_the_real_loop() -> None:
    probe = LoopLagProbe("lag-real", interval_s=0.05)
    # Runs as soon as the probe starts sleeping, so the probe wakes at least 0.4 s after it
    # began its 0.05 s sleep.
    asyncio.get_running_loop().call_soon(hold_the_loop, 0.4)
    lag = await probe.measure_once()
    assert lag >= 0.35
    assert gauge("lag-real") == lag
