"""Every service's runtime measures its event-loop lag, and stops the probe with itself."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from prometheus_client import REGISTRY

from provisio_common.service import ServiceRuntime
from provisio_common.settings import ProvisioSettings, ServiceSettings
from provisio_common.tables import shared_tables
from provisio_common.testing.plugin import CreateDb

metadata = sa.MetaData()
tables = shared_tables(metadata)


def probes() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if getattr(t.get_coro(), "__qualname__", "") == "LoopLagProbe.run"]


async def test_the_runtime_runs_the_lag_probe_and_stop_ends_it(
    fresh_db: CreateDb, base_settings: ProvisioSettings
) -> None:
    service = "lag-runtime"
    database = await fresh_db("lag")
    before = set(probes())
    for run_background in (False, True):  # an API-only process measures its loop too
        settings = ServiceSettings(
            **{
                **base_settings.model_dump(),
                "service_name": service,
                "database": database,
                "run_background": run_background,
            }
        )
        runtime = ServiceRuntime(settings=settings, tables=tables, repositories=lambda session: None)
        async with runtime.engine.begin() as conn:  # the relay's outbox, the dead letters
            await conn.run_sync(metadata.create_all)
        await runtime.start()
        try:
            [probe] = set(probes()) - before
            value = REGISTRY.get_sample_value("provisio_event_loop_lag_seconds", {"service": service})
            assert value is not None
        finally:
            await runtime.stop()
        assert probe.done() and set(probes()) == before
