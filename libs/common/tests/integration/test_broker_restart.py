"""A broker that loses everything (memory only) is healed from the outbox."""

from __future__ import annotations

import json

import sqlalchemy as sa

from provisio_common.embedded import EmbeddedBroker
from provisio_common.events import Envelope
from provisio_common.service import ServiceRuntime
from provisio_common.settings import ProvisioSettings, ServiceSettings
from provisio_common.tables import shared_tables
from provisio_common.testing.plugin import CreateDb, eventually
from provisio_common.topics import DEALS

from .test_outbox_inbox import read_all

metadata = sa.MetaData()
tables = shared_tables(metadata)


async def test_restarted_broker_gets_topics_and_every_outbox_row_again(
    fresh_db: CreateDb, base_settings: ProvisioSettings, broker: EmbeddedBroker
) -> None:
    settings = ServiceSettings(
        **{
            **base_settings.model_dump(),
            "database": await fresh_db("restart"),
            "service_name": "restart-test",
            "outbox_topic_check_interval_s": 0.2,
        }
    )
    runtime = ServiceRuntime(settings=settings, tables=tables, repositories=lambda session: None)
    async with runtime.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await runtime.start()
    try:
        async with runtime.uow() as uow:
            for n in range(3):
                env = Envelope(type="test", source="t", subject="k", data={"n": n})
                await uow.enqueue(DEALS.name, "k", env.to_bytes(), env.id)
            await uow.commit()
        assert len(await read_all(settings, DEALS.name, 3)) == 3

        broker.stop()
        broker.start()  # same port, empty memory: no topics, no messages

        async def republished() -> bool:
            values = await read_all(settings, DEALS.name, 3)
            return sorted(json.loads(v)["data"]["n"] for v in values) == [0, 1, 2]

        await eventually(republished, timeout_s=30, interval_s=0.5)
    finally:
        await runtime.stop()
