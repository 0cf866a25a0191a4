"""Producer and consumer factories: every client configured once, from settings."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable

import aiokafka.client
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.metadata import MetadataRequest

from provisio_common import metrics
from provisio_common.settings import ProvisioSettings

# Our clients never create a topic by asking for its metadata (the Java clients'
# `allow.auto.create.topics=false`; compose and Strimzi also turn `auto.create.topics.enable`
# off on the broker). Topics are created only by `topics.ensure_topics`, with the catalogue's
# partitions and compaction: a broker that restarted empty would otherwise re-create a topic
# with its own default partition count the moment a producer or consumer looked it up.
# aiokafka has no setting for it; its client builds every metadata request from this name.
aiokafka.client.MetadataRequest = functools.partial(MetadataRequest, allow_auto_topic_creation=False)

# What a record batch adds around one message's value: the batch header (61 bytes),
# the record's framing and its key (a deal key is at most ~1.6 KB of UTF-8: two 200-character
# ids), with room to spare. A value up to `max_message_value_bytes` always fits a request.
MESSAGE_OVERHEAD_BYTES = 4096


def max_message_value_bytes(settings: ProvisioSettings) -> int:
    """The largest message value (a serialized envelope) the producer is sure to send:
    `kafka_max_message_bytes` less the record overhead. deal-ingest refuses (422) a deal
    whose envelope is larger, so no accepted deal becomes an outbox row that cannot leave."""
    return settings.kafka_max_message_bytes - MESSAGE_OVERHEAD_BYTES


def make_producer(settings: ProvisioSettings) -> AIOKafkaProducer:
    """acks=all always; the idempotent producer only where the broker supports it;
    requests up to `kafka_max_message_bytes` (larger rows are parked by the outbox relay)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        linger_ms=2,
        max_request_size=settings.kafka_max_message_bytes,
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )


class Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """Counts the times a consumer's partitions were taken away (a rebalance, a rejoin),
    and shows how many of each topic it holds (`provisio_consumer_assigned_partitions`,
    when given the `service` and `consumer` to label it with)."""

    def __init__(self, service: str = "", consumer: str = "") -> None:
        self.revoked = 0
        self.labels = (service, consumer) if service else None
        self._topics: set[str] = set()

    async def on_partitions_revoked(self, revoked: object) -> None:
        """Called by aiokafka before a rebalance takes partitions away."""
        self.revoked += 1

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        """Called by aiokafka after a rebalance with the whole new assignment."""
        if self.labels is None:
            return
        held = Counter(tp.topic for tp in assigned)
        self._topics |= set(held)
        for topic in self._topics:
            metrics.CONSUMER_PARTITIONS.labels(*self.labels, topic).set(held[topic])


def make_consumer(
    settings: ProvisioSettings, group: str, topics: list[str], rebalances: Rebalances | None = None
) -> AIOKafkaConsumer:
    """Manual commits only: offsets are committed after the DB transaction (inbox).
    `rebalances` counts the group's rebalances (`InboxConsumer` commits only offsets
    fetched since the last one)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
        max_poll_interval_ms=300_000,
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        metadata_max_age_ms=settings.kafka_metadata_max_age_ms,
        request_timeout_ms=settings.kafka_request_timeout_ms,
    )
    consumer.subscribe(topics=topics, listener=rebalances if rebalances is not None else Rebalances())
    return consumer


async def list_topics(settings: ProvisioSettings) -> set[str]:
    """The names of every topic on the broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()
