"""Consumers never skip or misroute a message: a database outage is waited out, not
dead-lettered; a batch interrupted mid-way (the DLQ send failing) is rewound, not skipped.
Real embedded Postgres (stopped and started by its own pg_ctl) and the real broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

from provisio_common import metrics
from provisio_common.embedded import EmbeddedPostgres
from provisio_common.inbox import InboxConsumer
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import eventually

from .test_outbox_inbox import TOPIC, engine, event, inbox_consumer, producer, tables, total

__all__ = ["engine", "producer"]  # fixtures shared with the outbox/inbox tests


async def dead_letter_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(tables.dead_letters))).scalar_one()
        )


async def dlq_topic_messages(settings: ProvisioSettings) -> list[bytes]:
    reader = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await reader.start()
    try:
        reader.assign([TopicPartition(f"{TOPIC}.dlq", 0)])
        batch = await reader.getmany(timeout_ms=1500)
        return [m.value for msgs in batch.values() for m in msgs]
    finally:
        await reader.stop()


@contextlib.asynccontextmanager
async def running(consumer: InboxConsumer) -> AsyncIterator[None]:
    stop = asyncio.Event()
    await consumer.consumer.start()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.consumer.stop()


def rewinds() -> float:
    return sum(
        sample.value
        for family in metrics.CONSUMED.collect()
        for sample in family.samples
        if sample.labels.get("outcome") == "rewound" and sample.name.endswith("_total")
    )


async def test_postgres_down_for_seconds_dead_letters_nothing_and_loses_nothing(
    engine: AsyncEngine,
    producer: AIOKafkaProducer,
    base_settings: ProvisioSettings,
    embedded_pg: EmbeddedPostgres,
) -> None:
    consumer = inbox_consumer(engine, base_settings, producer)
    consumer.transient_backoff_max_s = 0.5
    sent: list[int] = []

    async def send(n: int) -> None:
        await producer.send_and_wait(TOPIC, event(n).to_bytes(), key=f"k{n % 3}".encode())
        sent.append(n)

    async with running(consumer):
        for n in range(1, 6):
            await send(n)
        await eventually(lambda: _total_is(engine, sum(sent)))
        before = rewinds()
        await asyncio.to_thread(embedded_pg.stop)
        try:
            # Deals keep flowing while the database is down; the consumer must notice the
            # outage (rewind and pause), not dead-letter.
            for n in range(6, 16):
                await send(n)

            async def noticed() -> bool:
                return rewinds() > before

            await eventually(noticed, timeout_s=30)
            await asyncio.sleep(3)  # the outage lasts a few seconds: the fault, not a wait
        finally:
            await asyncio.to_thread(embedded_pg.start)
        for n in range(16, 21):
            await send(n)
        await eventually(lambda: _total_is(engine, sum(sent)), timeout_s=60)
    assert await total(engine) == sum(range(1, 21))  # each applied exactly once
    assert await dead_letter_rows(engine) == 0
    assert await dlq_topic_messages(base_settings) == []


async def _total_is(engine: AsyncEngine, expected: int) -> bool:
    try:
        return bool(await total(engine) == expected)
    except Exception:  # noqa: BLE001 - the database may still be coming back
        return False


class FailingFirstDlqSend:
    """A producer whose first send to a dead-letter topic fails as if the broker were down."""

    def __init__(self, real: AIOKafkaProducer) -> None:
        self.real = real
        self.failures = 0

    async def send_and_wait(self, topic: str, value: bytes, **kwargs: Any) -> Any:
        if topic.endswith(".dlq") and self.failures == 0:
            self.failures += 1
            raise KafkaConnectionError("broker unreachable while dead-lettering")
        return await self.real.send_and_wait(topic, value, **kwargs)


@pytest.mark.parametrize("batch_size", [1, 10])
async def test_a_dlq_send_failing_mid_batch_skips_no_message_of_the_batch(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings, batch_size: int
) -> None:
    for n, fail in ((1, False), (2, False), (100, True), (4, False), (8, False)):
        await producer.send_and_wait(TOPIC, event(n, fail=fail).to_bytes(), key=b"k", partition=0)
    for n in (16, 32):
        await producer.send_and_wait(TOPIC, event(n).to_bytes(), key=b"j", partition=1)
    consumer = inbox_consumer(engine, base_settings, producer)
    consumer.batch_size = batch_size
    failing = FailingFirstDlqSend(producer)
    consumer.producer = failing
    async with running(consumer):
        await eventually(lambda: _total_is(engine, 63))
    assert failing.failures == 1
    assert await total(engine) == 63  # 1+2+4+8 after the bad one, and partition 1 too
    assert await dead_letter_rows(engine) == 1
    assert len(await dlq_topic_messages(base_settings)) == 1
