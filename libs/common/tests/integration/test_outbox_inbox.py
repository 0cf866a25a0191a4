"""Outbox relay and inbox consumer against the real embedded Postgres and broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from provisio_common.db import create_engine, session_factory
from provisio_common.events import Envelope, Schema
from provisio_common.inbox import InboxConsumer
from provisio_common.kafka import Rebalances, make_consumer, make_producer
from provisio_common.outbox import OutboxRelay, add_to_outbox
from provisio_common.routes import Route
from provisio_common.settings import ProvisioSettings
from provisio_common.tables import shared_tables
from provisio_common.testing.plugin import CreateDb
from provisio_common.topics import DEALS, ensure_topics
from provisio_common.uow import SqlUnitOfWork, UnitOfWork

metadata = sa.MetaData()
tables = shared_tables(metadata)
outbox, inbox = tables.outbox, tables.inbox
counters = sa.Table(
    "counters",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("total", sa.Integer, nullable=False),
)
TOPIC = DEALS.name
PARTITIONS = DEALS.partitions


class Count(Schema):
    """The test event: add `n` to the counter; `fail` makes the handler fail every time."""

    n: int
    fail: bool = False


ROUTES: dict[type[Schema], Route] = {
    Count: Route("test.count", DEALS, lambda r: "k", lambda r: "k"),
}


class Counters:
    """The test repository."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, n: int) -> None:
        stmt = sa.text(
            "INSERT INTO counters (name, total) VALUES ('n', :v) "
            "ON CONFLICT (name) DO UPDATE SET total = counters.total + :v"
        )
        await self.session.execute(stmt, {"v": n})


@pytest.fixture
async def engine(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[AsyncEngine]:
    name = await fresh_db("common")
    eng = create_engine(base_settings.dsn(name))
    async with eng.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield eng
    await eng.dispose()


@pytest.fixture
async def producer(base_settings: ProvisioSettings) -> AsyncIterator[AIOKafkaProducer]:
    await ensure_topics(base_settings.kafka_bootstrap)
    prod = make_producer(base_settings)
    await prod.start()
    yield prod
    await prod.stop()


async def read_all(settings: ProvisioSettings, topic: str, expect: int) -> list[bytes]:
    """Everything on a topic (all partitions), read with a group-less consumer."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in parts])
        values: list[bytes] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while loop.time() < deadline and len(values) < expect:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                values += [m.value for m in msgs]
        # a little longer, to catch anything extra (duplicates)
        batch = await consumer.getmany(timeout_ms=300)
        for msgs in batch.values():
            values += [m.value for m in msgs]
        return values
    finally:
        await consumer.stop()


def event(n: int, key: str = "k", *, fail: bool = False) -> Envelope:
    data: dict[str, object] = {"n": n, "fail": True} if fail else {"n": n}
    return Envelope(type="test.count", source="test", subject=key, data=data)


async def write_events(engine: AsyncEngine, events: list[Envelope], key: str = "k") -> None:
    async with engine.begin() as conn:
        for env in events:
            await add_to_outbox(conn, outbox, TOPIC, key, env.id, env.to_bytes())


def relay(engine: AsyncEngine, producer: AIOKafkaProducer) -> OutboxRelay:
    return OutboxRelay(service="test", engine=engine, table=outbox, producer=producer)


async def test_crash_after_db_commit_before_publish_loses_nothing(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    # The state commits with its outbox rows; the process "dies" before any relay ran.
    await write_events(engine, [event(i) for i in range(3)])
    # A relay started after the restart publishes them.
    assert await relay(engine, producer).drain() == 3
    values = await read_all(base_settings, TOPIC, 3)
    assert [json.loads(v)["data"]["n"] for v in values] == [0, 1, 2]


async def test_relay_does_not_publish_a_row_twice(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    await write_events(engine, [event(i) for i in range(5)])
    first, second = relay(engine, producer), relay(engine, producer)
    counts = await asyncio.gather(first.drain(), second.drain())
    assert sum(counts) == 5
    assert await first.drain() == 0
    values = await read_all(base_settings, TOPIC, 5)
    assert sorted(json.loads(v)["data"]["n"] for v in values) == [0, 1, 2, 3, 4]
    async with engine.connect() as conn:
        counts_per_row = (await conn.execute(sa.select(outbox.c.publish_count))).scalars().all()
    assert counts_per_row == [1] * 5


async def test_publish_failure_leaves_rows_unsent_for_the_next_try(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    await write_events(engine, [event(1)])
    broken = relay(engine, producer)

    async def failing_send(*args: object, **kwargs: object) -> None:
        raise ConnectionError("broker gone")

    broken.producer = type("P", (), {"send": staticmethod(failing_send)})()
    with pytest.raises(ConnectionError):
        await broken.publish_batch()
    assert await relay(engine, producer).drain() == 1


async def test_rows_of_one_key_are_published_in_order_with_several_relays(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    for batch in range(4):
        await write_events(engine, [event(batch * 10 + i, "a") for i in range(10)], key="a")
        await write_events(engine, [event(batch * 10 + i, "b") for i in range(10)], key="b")
    relays = [relay(engine, producer) for _ in range(3)]
    for r in relays:
        r.batch_size = 7
    await asyncio.gather(*(r.drain() for r in relays))
    values = [json.loads(v) for v in await read_all(base_settings, TOPIC, 80)]
    for key in ("a", "b"):
        seen = [v["data"]["n"] for v in values if v["subject"] == key]
        assert seen == list(range(40))


async def apply_count(uow: UnitOfWork[Counters], record: Count) -> None:
    if record.fail:
        raise RuntimeError("cannot apply this one")
    await uow.repos.add(record.n)


async def total(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        value = (await conn.execute(sa.select(counters.c.total))).scalar()
    return int(value or 0)


def inbox_consumer(
    engine: AsyncEngine, settings: ProvisioSettings, producer: AIOKafkaProducer, member: str = "test"
) -> InboxConsumer:
    sessions = session_factory(engine)
    rebalances = Rebalances(member, "test-group")
    return InboxConsumer(
        service="test",
        name="test-group",
        handlers={Count: apply_count},
        uow=lambda: SqlUnitOfWork(sessions=sessions, tables=tables, source="test", repositories=Counters),
        consumer=make_consumer(settings, "test-group", [TOPIC], rebalances),
        rebalances=rebalances,
        producer=producer,
        max_attempts=2,
        retry_backoff_s=0.01,
        routes=ROUTES,
    )


def held_partitions(member: str) -> float | None:
    labels = {"service": member, "consumer": "test-group", "topic": TOPIC}
    return REGISTRY.get_sample_value("provisio_consumer_assigned_partitions", labels)


async def consume_until(consumer: InboxConsumer, expected: int) -> int:
    seen = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while seen < expected and loop.time() < deadline:
        seen += await consumer.poll_once(timeout_ms=200)
    return seen


async def test_same_event_delivered_twice_changes_state_once(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    env = event(5)
    await producer.send_and_wait(TOPIC, env.to_bytes(), key=b"k")
    await producer.send_and_wait(TOPIC, env.to_bytes(), key=b"k")
    consumer = inbox_consumer(engine, base_settings, producer)
    await consumer.consumer.start()
    try:
        assert await consume_until(consumer, 2) == 2
    finally:
        await consumer.consumer.stop()
    assert await total(engine) == 5


async def test_consumer_killed_before_offset_commit_does_not_double_count(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    for n in (1, 2, 4):
        await producer.send_and_wait(TOPIC, event(n).to_bytes(), key=b"k")
    first = inbox_consumer(engine, base_settings, producer)

    async def die_before_commit(offsets: dict[TopicPartition, int]) -> None:
        return None  # the process died: the DB committed, the offsets never were

    first.commit = die_before_commit  # type: ignore[method-assign]
    await first.consumer.start()
    assert await consume_until(first, 3) == 3
    await first.consumer.stop()
    assert await total(engine) == 7

    second = inbox_consumer(engine, base_settings, producer)
    await second.consumer.start()
    try:
        assert await consume_until(second, 3) == 3  # all three are delivered again
    finally:
        await second.consumer.stop()
    assert await total(engine) == 7


async def test_malformed_and_failing_messages_go_to_dlq_and_partition_moves_on(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    await producer.send_and_wait(TOPIC, b"{not json", key=b"k", partition=0)
    bad = event(1, fail=True)
    await producer.send_and_wait(TOPIC, bad.to_bytes(), key=b"k", partition=0)
    wrong_type = Envelope(type="no.such.type", source="test", subject="k", data={})
    await producer.send_and_wait(TOPIC, wrong_type.to_bytes(), key=b"k", partition=0)
    bad_payload = Envelope(type="test.count", source="test", subject="k", data={"n": "many"})
    await producer.send_and_wait(TOPIC, bad_payload.to_bytes(), key=b"k", partition=0)
    await producer.send_and_wait(TOPIC, event(3).to_bytes(), key=b"k", partition=0)
    consumer = inbox_consumer(engine, base_settings, producer)
    await consumer.consumer.start()
    try:
        assert await consume_until(consumer, 5) == 5
    finally:
        await consumer.consumer.stop()
    assert await total(engine) == 3  # the good message after the bad ones was applied
    dlq = AIOKafkaConsumer(
        bootstrap_servers=base_settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await dlq.start()
    try:
        dlq.assign([TopicPartition(f"{TOPIC}.dlq", 0)])
        batch = await dlq.getmany(timeout_ms=3000)
        messages = [m for msgs in batch.values() for m in msgs]
    finally:
        await dlq.stop()
    assert [m.value for m in messages] == [
        b"{not json",
        bad.to_bytes(),
        wrong_type.to_bytes(),
        bad_payload.to_bytes(),
    ]
    errors = [dict(m.headers)["provisio-error"].decode() for m in messages]
    assert "not an envelope" in errors[0] and "json" in errors[0].lower()
    assert "cannot apply this one" in errors[1]
    assert "no.such.type" in errors[2]
    assert "n" in errors[3] and "Count" in errors[3]
    # unreadable messages are not retried; a failing handler is, max_attempts times
    assert [dict(m.headers)["provisio-attempts"] for m in messages] == [b"1", b"2", b"1", b"1"]
    async with engine.connect() as conn:
        recorded = (await conn.execute(sa.select(sa.func.count()).select_from(inbox))).scalar()
        letters = (
            await conn.execute(sa.select(tables.dead_letters).order_by(tables.dead_letters.c.offset))
        ).all()
    assert recorded == 1  # the failed message's inbox row was rolled back with its state
    # each dead letter is kept in the service's own table too, for GET /dlq
    assert [bytes(r.payload) for r in letters] == [m.value for m in messages]
    assert [r.error_type for r in letters] == [
        "UnreadableMessage",
        "RuntimeError",
        "UnreadableMessage",
        "UnreadableMessage",
    ]


async def test_a_batch_shares_one_transaction_and_one_finisher_and_a_bad_message_falls_back(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    finished: list[int] = []

    async def finisher(uow: UnitOfWork[Counters], applied: list[Envelope]) -> None:
        finished.append(len(applied))

    for n in (1, 2, 3, 4):
        await producer.send_and_wait(TOPIC, event(n).to_bytes(), key=b"k", partition=0)
    consumer = inbox_consumer(engine, base_settings, producer)
    consumer.finisher, consumer.batch_size = finisher, 10
    await consumer.consumer.start()
    try:
        assert await consume_until(consumer, 4) == 4
        assert await total(engine) == 10
        assert finished == [4]  # one transaction, one finisher run for the whole batch

        finished.clear()
        bad = event(100, fail=True)
        for env in (event(10), bad, event(20)):
            await producer.send_and_wait(TOPIC, env.to_bytes(), key=b"k", partition=0)
        assert await consume_until(consumer, 3) == 3
    finally:
        await consumer.consumer.stop()
    # The batch rolled back whole, then went one by one: both good ones applied once,
    # the bad one is in the DLQ, each good one had its own finisher run.
    assert await total(engine) == 40
    assert finished == [1, 1]


async def test_a_unit_of_work_writes_its_queued_rows_at_commit_in_publish_order(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)

    def uow() -> SqlUnitOfWork[Counters]:
        return SqlUnitOfWork(sessions=sessions, tables=tables, source="test", repositories=Counters)

    async def rows() -> list[tuple[str, int]]:
        async with engine.connect() as conn:
            found = await conn.execute(sa.select(outbox.c.key, outbox.c.payload).order_by(outbox.c.id))
            return [(r.key, json.loads(r.payload)["data"]["n"]) for r in found]

    # More rows than one INSERT carries (1,000), over several keys.
    async with uow() as work:
        for n in range(2500):
            env = event(n, key=f"k{n % 3}")
            await work.enqueue(TOPIC, f"k{n % 3}", env.to_bytes(), env.id)
        await work.commit()
    assert await rows() == [(f"k{n % 3}", n) for n in range(2500)]
    # Rows of a unit of work that does not commit are never written.
    async with uow() as work:
        env = event(-1)
        await work.enqueue(TOPIC, "k", env.to_bytes(), env.id)
    assert len(await rows()) == 2500


async def test_a_batch_spans_partitions_with_one_finisher_run(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    finished: list[int] = []

    async def finisher(uow: UnitOfWork[Counters], applied: list[Envelope]) -> None:
        finished.append(len(applied))

    # One message on each of four partitions, all there before the consumer's first fetch.
    for partition, n in enumerate((1, 2, 3, 4)):
        await producer.send_and_wait(
            TOPIC, event(n, f"k{n}").to_bytes(), key=f"k{n}".encode(), partition=partition
        )
    consumer = inbox_consumer(engine, base_settings, producer)
    consumer.finisher, consumer.batch_size = finisher, 10
    await consumer.consumer.start()
    try:
        assert await consume_until(consumer, 4) == 4
    finally:
        await consumer.consumer.stop()
    assert await total(engine) == 10
    # Per partition, it would be four runs of one message each.
    assert sum(finished) == 4 and len(finished) < 4, finished


async def test_offsets_fetched_before_a_rebalance_are_not_committed_after_it(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    consumer = inbox_consumer(engine, base_settings, producer)
    tp = TopicPartition(TOPIC, 0)
    rebalance_now = False

    async def applying(uow: UnitOfWork[Counters], record: Count) -> None:
        if rebalance_now:  # the group rebalances (or rejoins a restarted broker) meanwhile
            consumer.rebalances.revoked += 1
        await uow.repos.add(record.n)

    consumer.by_type = {"test.count": (Count, applying)}
    await producer.send_and_wait(TOPIC, event(1).to_bytes(), key=b"k", partition=0)
    await consumer.consumer.start()
    try:
        assert await consume_until(consumer, 1) == 1
        assert (await consumer.consumer.committed(tp)) == 1
        rebalance_now = True
        await producer.send_and_wait(TOPIC, event(2).to_bytes(), key=b"k", partition=0)
        assert await consume_until(consumer, 1) == 1
        # Applied, but its offset belongs to the assignment before the rebalance.
        assert await total(engine) == 3
        assert (await consumer.consumer.committed(tp)) == 1
        # Delivered again from the committed offset: the inbox ignores it, then it is committed.
        rebalance_now = False
        consumer.consumer.seek(tp, 1)
        assert await consume_until(consumer, 1) == 1
        assert await total(engine) == 3
        assert (await consumer.consumer.committed(tp)) == 2
    finally:
        await consumer.consumer.stop()


async def test_a_rebalance_is_seen_by_the_consumer(
    engine: AsyncEngine, producer: AIOKafkaProducer, base_settings: ProvisioSettings
) -> None:
    first = inbox_consumer(engine, base_settings, producer, "first")
    second = inbox_consumer(engine, base_settings, producer, "second")
    await first.consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not first.consumer.assignment() and loop.time() < deadline:
            await first.poll_once(timeout_ms=200)
        before = first.rebalances.revoked
        await second.consumer.start()
        try:
            # A second member joins the group: the first one's partitions are revoked.
            while not second.consumer.assignment() and loop.time() < deadline:
                await asyncio.gather(first.poll_once(timeout_ms=200), second.poll_once(timeout_ms=200))
            assert second.consumer.assignment()
            assert first.rebalances.revoked > before
            # Each shows what it holds: together, every partition of the topic once.
            while len(first.consumer.assignment()) + len(second.consumer.assignment()) != PARTITIONS:
                await asyncio.gather(first.poll_once(timeout_ms=200), second.poll_once(timeout_ms=200))
            held = [held_partitions(member) for member in ("first", "second")]
            assert held == [len(first.consumer.assignment()), len(second.consumer.assignment())]
            assert all(held) and sum(h or 0 for h in held) == PARTITIONS
        finally:
            await second.consumer.stop()
    finally:
        await first.consumer.stop()
