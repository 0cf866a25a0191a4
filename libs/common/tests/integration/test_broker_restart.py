"""A broker that loses everything (memory only) is healed from the outbox."""

from __future__ import annotations

import json

import sqlalchemy as sa

from provisio_common.embedded import EmbeddedBroker
from provisio_common.events import Envelope
from provisio_common.outbox import add_to_outbox
from provisio_common.service import ServiceRuntime
from provisio_common.settings import ProvisioSettings, ServiceSettings
from provisio_common.tables import inbox_table, outbox_table
from provisio_common.testing.plugin import eventually
from provisio_common.topics import DEALS

from .test_outbox_inbox import read_all

metadata = sa.MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


async def test_restarted_broker_gets_topics_and_every_outbox_row_again(
    fresh_db, base_settings: ProvisioSettings, broker: EmbeddedBroker
) -> None:
    settings = ServiceSettings(
        **{
            **base_settings.model_dump(),
            "database": await fresh_db("restart"),
            "service_name": "restart-test",
            "outbox_topic_check_interval_s": 0.2,
        }
    )
    runtime = ServiceRuntime(settings=settings, outbox=outbox, inbox=inbox)
    async with runtime.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await runtime.start()
    try:
        async with runtime.sessions.begin() as session:
            for n in range(3):
                env = Envelope(type="test", source="t", subject="k", data={"n": n})
                await add_to_outbox(session, outbox, DEALS.name, "k", env)
        assert len(await read_all(settings, DEALS.name, 3)) == 3

        broker.stop()
        broker.start()  # same port, empty memory: no topics, no messages

        async def republished() -> bool:
            values = await read_all(settings, DEALS.name, 3)
            return sorted(json.loads(v)["data"]["n"] for v in values) == [0, 1, 2]

        await eventually(republished, timeout_s=30, interval_s=0.5)
    finally:
        await runtime.stop()
