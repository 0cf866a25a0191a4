"""calc-engine's scheduler: a loop beside the consumer that settles ended contests."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from calc_engine.service_layer.clock import Clock
from calc_engine.service_layer.contests import settle_ended_contests
from provisio_common.service import BackgroundTask, ServiceRuntime

log = logging.getLogger(__name__)


def contest_scheduler(clock: Clock, interval_s: float) -> BackgroundTask:
    """Every `interval_s` (and once at start, so a restart catches up at once), award the
    prizes of contests whose window has ended by `clock`."""

    async def run(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await settle_ended_contests(runtime.uow, clock)
            except Exception:  # logged; the next pass tries again (nothing was half-written)
                log.exception("settling ended contests failed; trying again in %s s", interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    return run
