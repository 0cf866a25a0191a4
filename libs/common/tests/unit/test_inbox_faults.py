"""The inbox consumer's decisions on the fake unit of work: a transient failure is never the
message's fault (raised, never dead-lettered); a deterministic one is, after its attempts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
import sqlalchemy.exc as sa_exc
from aiokafka.errors import CommitFailedError, KafkaConnectionError, UnknownTopicOrPartitionError
from aiokafka.structs import ConsumerRecord, TopicPartition

from provisio_common import metrics
from provisio_common.events import Envelope, Schema
from provisio_common.inbox import InboxConsumer, PoisonMessage
from provisio_common.routes import Route
from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork
from provisio_common.topics import DEALS
from provisio_common.transient import is_transient
from provisio_common.uow import UnitOfWork


class Tick(Schema):
    n: int


ROUTES: dict[type[Schema], Route] = {Tick: Route("test.tick", DEALS, lambda r: "k", lambda r: "k")}


class Recorder:
    """The handler's repository: what was applied."""

    def __init__(self) -> None:
        self.applied: list[int] = []


class SentToDlq:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, **kwargs: Any) -> None:
        self.sent.append((topic, value))


def record(value: bytes, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(DEALS.name, 0, offset, 0, 0, b"k", value, None, 1, len(value), [])


MOMENT = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)


def tick(n: int) -> bytes:
    env = Envelope(id=f"evt-{n}", type="test.tick", source="t", subject="k", time=MOMENT, data={"n": n})
    return env.to_bytes()


def consumer_with(failure: BaseException | None) -> tuple[InboxConsumer, FakeStore[Recorder], SentToDlq]:
    store: FakeStore[Recorder] = FakeStore(Recorder())
    producer = SentToDlq()

    async def handle(uow: UnitOfWork[Recorder], payload: Tick) -> None:
        if failure is not None:
            raise failure
        uow.repos.applied.append(payload.n)

    consumer = InboxConsumer(
        service="test",
        name="c",
        handlers={Tick: handle},
        uow=lambda: FakeUnitOfWork(store),
        consumer=None,
        producer=producer,
        max_attempts=3,
        retry_backoff_s=0,
        routes=ROUTES,
    )
    return consumer, store, producer


async def test_an_applied_event_changes_state_once_and_a_duplicate_is_a_no_op() -> None:
    consumer, store, producer = consumer_with(None)
    first = await consumer.process(record(tick(7)))
    again = await consumer.process(record(tick(7), offset=1))
    assert first.applied and not again.dead_lettered
    assert store.repos.applied == [7]
    assert producer.sent == []


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionRefusedError(111, "connection refused"),
        TimeoutError("statement timed out"),
        KafkaConnectionError("broker down"),
        asyncpg.exceptions.SerializationError("could not serialize access"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        sa_exc.OperationalError("SELECT 1", {}, asyncpg.exceptions.ConnectionDoesNotExistError("closed")),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_transient_failure_is_raised_for_a_retry_and_never_dead_lettered(
    failure: BaseException,
) -> None:
    consumer, store, producer = consumer_with(failure)
    with pytest.raises(type(failure)):
        await consumer.process(record(tick(1)))
    assert producer.sent == [] and await store.dead_letters.pending() == 0
    assert store.inbox == set()  # nothing was recorded: the retry applies it


@pytest.mark.parametrize("failure", [RuntimeError("bug"), PoisonMessage("never applies"), KeyError("x")])
async def test_a_deterministic_failure_is_dead_lettered_with_its_error(failure: BaseException) -> None:
    consumer, store, producer = consumer_with(failure)
    outcome = await consumer.process(record(tick(1)))
    assert outcome.dead_lettered
    assert producer.sent == [(f"{DEALS.name}.dlq", tick(1))]
    (letter,) = await store.dead_letters.list(topic=None, status="all", limit=5)
    assert letter.error_type == type(failure).__name__
    assert letter.attempts == (1 if isinstance(failure, PoisonMessage) else 3)
    assert store.inbox == set()


async def test_an_unreadable_message_is_dead_lettered_at_once() -> None:
    consumer, store, producer = consumer_with(None)
    wrong = Envelope(type="test.tick", source="t", subject="k", data={"n": "seven"}).to_bytes()
    outcome = await consumer.process(record(wrong))
    assert outcome.dead_lettered and producer.sent == [(f"{DEALS.name}.dlq", wrong)]
    (letter,) = await store.dead_letters.list(topic=None, status="all", limit=5)
    assert (letter.error_type, letter.attempts) == ("UnreadableMessage", 1)
    assert "Tick" in letter.error


def test_what_counts_as_transient() -> None:
    wrapped = RuntimeError("while applying")
    wrapped.__cause__ = ConnectionResetError(104, "reset")
    assert is_transient(wrapped)
    assert not is_transient(ValueError("bad amount"))
    assert not is_transient(OSError("no errno: a bug, not an outage"))
    assert is_transient(UnknownTopicOrPartitionError()) == UnknownTopicOrPartitionError.retriable
    assert not is_transient(asyncpg.exceptions.UniqueViolationError("duplicate key"))


class Held:
    """The Kafka consumer as the inbox consumer sees it between polls: the partitions it
    holds, their high-water marks and positions, and commits that fail while told to."""

    def __init__(self, held: set[TopicPartition]) -> None:
        self.held = held
        self.failing = 0
        self.commits: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return set(self.held)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.failing:
            self.failing -= 1
            raise CommitFailedError("the group is rebalancing")
        self.commits.append(dict(offsets))

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        return {}

    def paused(self) -> set[TopicPartition]:
        return set()

    def highwater(self, tp: TopicPartition) -> int:
        return 10

    async def position(self, tp: TopicPartition) -> int:
        return 7


def inbox_on(kafka: Held) -> InboxConsumer:
    consumer, _, _ = consumer_with(None)
    consumer.consumer = kafka
    return consumer


async def test_a_failed_offset_commit_is_retried_on_the_next_poll_for_partitions_still_held() -> None:
    p0, p1 = TopicPartition(DEALS.name, 0), TopicPartition(DEALS.name, 1)
    kafka = Held({p0, p1})
    consumer = inbox_on(kafka)
    kafka.failing = 1
    await consumer.commit({p0: 5, p1: 9})
    assert kafka.commits == []
    kafka.held = {p0}  # p1 went to another member in the rebalance: it commits p1 now
    await consumer.poll_once(timeout_ms=0)  # nothing fetched, the commit is tried again
    assert kafka.commits == [{p0: 5}]
    await consumer.poll_once(timeout_ms=0)
    assert kafka.commits == [{p0: 5}]  # once


def lag_series() -> set[tuple[str, ...]]:
    return {
        (s.labels["consumer"], s.labels["partition"])
        for metric in metrics.CONSUMER_LAG.collect()
        for s in metric.samples
        if s.labels.get("service") == "test"
    }


async def test_the_lag_of_a_partition_no_longer_held_is_no_longer_reported_here() -> None:
    p0, p1 = TopicPartition(DEALS.name, 0), TopicPartition(DEALS.name, 1)
    kafka = Held({p0, p1})
    consumer = inbox_on(kafka)
    await consumer.poll_once(timeout_ms=0)
    assert lag_series() >= {("c", "0"), ("c", "1")}
    kafka.held = {p0}
    await consumer.poll_once(timeout_ms=0)
    assert {p for c, p in lag_series() if c == "c"} == {"0"}
