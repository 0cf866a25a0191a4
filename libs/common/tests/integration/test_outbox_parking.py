"""No poison blocks the outbox (real Postgres, real broker): a row too large to publish is
parked with its error, later rows of its key are held behind it, every other key flows;
a transient failure parks nothing; the gauges tell the truth while the relay fails."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from provisio_common.db import create_engine, session_factory
from provisio_common.embedded import EmbeddedBroker
from provisio_common.events import Envelope
from provisio_common.kafka import make_producer
from provisio_common.outbox import OutboxRelay, SqlParkedOutbox, add_to_outbox, unpublishable
from provisio_common.settings import ProvisioSettings
from provisio_common.tables import shared_tables
from provisio_common.testing.plugin import CreateDb, eventually
from provisio_common.topics import DEALS, ensure_topics

metadata = sa.MetaData()
outbox = shared_tables(metadata).outbox
TOPIC = DEALS.name
LIMIT = 64 * 1024


@pytest.fixture
async def engine(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(base_settings.dsn(await fresh_db("parking")))
    async with eng.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield eng
    await eng.dispose()


@pytest.fixture
async def producer(base_settings: ProvisioSettings) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(base_settings.kafka_bootstrap)
    prod = make_producer(base_settings.model_copy(update={"kafka_max_message_bytes": LIMIT}))
    await prod.start()
    yield prod
    await prod.stop()


async def write(engine: AsyncEngine, key: str, label: str, size: int = 0) -> int:
    env = Envelope(type="test", source="test", subject=key, data={"label": label, "pad": "é" * size})
    async with engine.begin() as conn:
        await add_to_outbox(conn, outbox, TOPIC, key, env.id, env.to_bytes())
        return int((await conn.execute(sa.select(sa.func.max(outbox.c.id)))).scalar_one())


async def published(settings: ProvisioSettings, expect: int) -> list[str]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        consumer.assign([TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or set()])
        labels: list[str] = []
        for _ in range(50):
            for msgs in (await consumer.getmany(timeout_ms=100)).values():
                labels += [json.loads(m.value)["data"]["label"] for m in msgs]
            if len(labels) >= expect:
                break
        for msgs in (await consumer.getmany(timeout_ms=300)).values():  # anything extra
            labels += [json.loads(m.value)["data"]["label"] for m in msgs]
        return labels
    finally:
        await consumer.stop()


async def states(engine: AsyncEngine) -> dict[int, tuple[bool, str | None]]:
    """id -> (sent, park_error)."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(outbox.c.id, outbox.c.sent_at, outbox.c.park_error))
        return {r.id: (r.sent_at is not None, r.park_error) for r in rows}


def gauge(name: str, service: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service})


async def _is(value: object, expected: object) -> bool:
    return value == expected


def test_only_rows_that_can_never_be_published_are_unpublishable() -> None:
    assert unpublishable(MessageSizeTooLargeError("too big"))
    assert unpublishable(UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogate"))
    for transient in (KafkaConnectionError(), KafkaTimeoutError(), ConnectionError(), TimeoutError()):
        assert not unpublishable(transient)
    assert not unpublishable(RuntimeError("a bug is not a reason to park"))


async def test_an_oversized_row_is_parked_its_key_held_behind_it_and_other_keys_flow(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    a1 = await write(engine, "a", "a1")
    a2 = await write(engine, "a", "a2", size=LIMIT)  # ~6 bytes per "é" in the envelope: too large
    a3 = await write(engine, "a", "a3")
    b1 = await write(engine, "b", "b1")
    b2 = await write(engine, "b", "b2")
    relay = OutboxRelay(service="parking-test", engine=engine, table=outbox, producer=producer)
    assert await relay.drain() == 5
    state = await states(engine)
    assert state[a1] == state[b1] == state[b2] == (True, None)
    assert state[a2][0] is False and str(state[a2][1]).startswith("MessageSizeTooLargeError")
    assert state[a3] == (False, f"held behind parked outbox row {a2} of the same key")
    # Later rows: another key flows, the parked key stays held (per-key order).
    b3 = await write(engine, "b", "b3")
    a4 = await write(engine, "a", "a4")
    assert await relay.drain() == 2
    state = await states(engine)
    assert state[b3] == (True, None)
    assert state[a4] == (False, f"held behind parked outbox row {a2} of the same key")
    assert sorted(await published(base_settings, 4)) == ["a1", "b1", "b2", "b3"]
    await relay.update_backlog_metrics()
    assert gauge("provisio_outbox_parked_rows", "parking-test") == 3
    assert gauge("provisio_outbox_backlog_rows", "parking-test") == 0
    assert gauge("provisio_outbox_oldest_unsent_age_seconds", "parking-test") == 0


async def test_a_released_key_is_tried_again_in_order_and_parks_again_if_still_too_large(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    big = await write(engine, "a", "big", size=LIMIT)
    after = await write(engine, "a", "after")
    relay = OutboxRelay(service="parking-test-2", engine=engine, table=outbox, producer=producer)
    await relay.drain()
    async with session_factory(engine)() as session, session.begin():  # POST /outbox/parked/{id}/release
        parked = SqlParkedOutbox(session, outbox)
        assert [r.id for r in await parked.find(limit=10)] == [big, after]
        assert await parked.release(after + 1) == []
        assert await parked.release(big) == [big, after]
        assert await parked.count() == 0
    # Still too large: parked again, and `after` behind it; nothing was published.
    assert await relay.drain() == 2
    state = await states(engine)
    assert str(state[big][1]).startswith("MessageSizeTooLargeError")
    assert state[after][1] == f"held behind parked outbox row {big} of the same key"
    assert await published(base_settings, 0) == []


async def test_a_transient_failure_parks_nothing_and_the_gauges_show_the_backlog_meanwhile(
    engine: AsyncEngine, base_settings: ProvisioSettings, broker: EmbeddedBroker
) -> None:
    await ensure_topics(base_settings.kafka_bootstrap)
    producer = AIOKafkaProducer(
        bootstrap_servers=base_settings.kafka_bootstrap, request_timeout_ms=1500, retry_backoff_ms=50
    )
    await producer.start()
    service = "parking-test-transient"

    async def topics_recreated() -> bool:  # what a service's marker-topic check does
        return bool(await ensure_topics(base_settings.kafka_bootstrap))

    relay = OutboxRelay(
        service=service,
        engine=engine,
        table=outbox,
        producer=producer,
        poll_interval_s=0.1,
        broker_check=topics_recreated,
        broker_check_interval_s=0.2,
    )
    stop = asyncio.Event()
    try:
        broker.stop()  # the broker is away: every pass fails
        for n in range(3):
            await write(engine, f"k{n}", f"r{n}")
        task = asyncio.create_task(relay.run(stop))

        async def backlog_shown() -> bool:
            age = gauge("provisio_outbox_oldest_unsent_age_seconds", service) or 0
            return gauge("provisio_outbox_backlog_rows", service) == 3 and age > 0

        await eventually(backlog_shown, timeout_s=20)
        assert gauge("provisio_outbox_parked_rows", service) == 0
        assert all(error is None for _, error in (await states(engine)).values())

        broker.start()  # back, empty (memory): the relay re-creates the topics and re-publishes

        async def all_published() -> bool:
            # (a send racing the topics' re-creation is lost by the broker and re-published)
            return sorted(set(await published(base_settings, 3))) == ["r0", "r1", "r2"]

        await eventually(all_published, timeout_s=60, interval_s=0.5)
        assert all(state == (True, None) for state in (await states(engine)).values())
        await eventually(lambda: _is(gauge("provisio_outbox_backlog_rows", service), 0))
    finally:
        stop.set()
        if "task" in locals():
            await asyncio.wait_for(task, 30)
        await producer.stop()
