"""A broker that loses everything (memory only) is healed from the outbox."""

from __future__ import annotations

import contextlib
import json

import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError

from provisio_common.embedded import EmbeddedBroker
from provisio_common.events import Envelope
from provisio_common.kafka import make_consumer, make_producer
from provisio_common.service import ServiceRuntime
from provisio_common.settings import ProvisioSettings, ServiceSettings
from provisio_common.tables import shared_tables
from provisio_common.testing.plugin import CreateDb, eventually
from provisio_common.topics import CATALOGUE, DEALS, PAYEES, QUOTAS

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


async def partition_counts(settings: ProvisioSettings) -> dict[str, int]:
    """Every topic on the broker and its number of partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics()
        return {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()


async def test_looking_up_a_missing_topic_never_creates_it(
    base_settings: ProvisioSettings, broker: EmbeddedBroker
) -> None:
    # The broker's own default would be used (not the catalogue's partitions and compaction).
    settings = base_settings.model_copy(update={"kafka_request_timeout_ms": 1500})
    producer = make_producer(settings)
    consumer = make_consumer(settings, "lookup-test", [PAYEES.name])
    await producer.start()
    try:
        with pytest.raises(UnknownTopicOrPartitionError):
            await producer.send_and_wait(QUOTAS.name, b"x", key=b"k")
        with pytest.raises(UnknownTopicOrPartitionError):
            await consumer.start()  # a consumer waits for its topics' metadata, then gives up
        assert not {PAYEES.name, QUOTAS.name} & set(await partition_counts(settings))
    finally:
        await consumer.stop()
        await producer.stop()


async def test_after_a_restart_every_topic_has_the_catalogue_partitions_though_clients_looked_first(
    fresh_db: CreateDb, base_settings: ProvisioSettings, broker: EmbeddedBroker
) -> None:
    settings = ServiceSettings(
        **{
            **base_settings.model_dump(),
            "database": await fresh_db("shape"),
            "service_name": "shape-test",
            "outbox_topic_check_interval_s": 0.2,
        }
    )
    runtime = ServiceRuntime(settings=settings, tables=tables, repositories=lambda session: None)
    async with runtime.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await runtime.start()
    # A consumer of single-partition topics that keeps looking them up through the restart.
    consumer = make_consumer(settings, "shape-test", [PAYEES.name, QUOTAS.name])
    await consumer.start()
    try:
        broker.stop()
        broker.start()
        for _ in range(6):
            await consumer.getmany(timeout_ms=100)
            with contextlib.suppress(Exception):
                await consumer._client.force_metadata_update()

        async def catalogue_shape() -> bool:
            counts = await partition_counts(settings)
            return all(counts.get(t.name) == t.partitions for t in CATALOGUE)

        await eventually(catalogue_shape, timeout_s=30, interval_s=0.2)
    finally:
        await consumer.stop()
        await runtime.stop()
