"""Event-loop lag: how late the loop wakes a task that sleeps a fixed interval.

A blocking call (CPU-bound work, a synchronous driver, a large JSON parse) holds the one
event loop of a service; every request and consumer waits behind it. A small task sleeps
`interval_s`, measures how much later than asked it woke, and keeps the largest overshoot of
the last `window_s` in `provisio_event_loop_lag_seconds{service}`, so that a scrape every
15 s still sees a spike between scrapes. `ServiceRuntime` runs one per service.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from prometheus_client import Gauge

from provisio_common import metrics


class LoopLagProbe:
    """Measures the event loop's lag into one service's gauge."""

    def __init__(
        self,
        service: str,
        *,
        interval_s: float = 0.25,
        window_s: float = 10.0,
        gauge: Gauge = metrics.EVENT_LOOP_LAG,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval_s = interval_s
        self.gauge = gauge.labels(service)
        self.clock = clock
        self.sleep = sleep
        self.recent: deque[float] = deque(maxlen=max(1, round(window_s / interval_s)))

    async def measure_once(self) -> float:
        """Sleep one interval; record and return how much later than asked the task woke."""
        started = self.clock()
        await self.sleep(self.interval_s)
        lag = max(self.clock() - started - self.interval_s, 0.0)
        self.recent.append(lag)
        self.gauge.set(max(self.recent))
        return lag

    async def run(self, stop: asyncio.Event) -> None:
        """Measure until `stop` is set (or the task is cancelled)."""
        while not stop.is_set():
            await self.measure_once()
