"""The topic catalogue (names, partitions, compaction, DLQs) and idempotent creation."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Topic:
    """One topic of the catalogue: name, partitions, compaction and what its key is."""

    name: str
    partitions: int
    compacted: bool
    key: str

    @property
    def dlq(self) -> str:
        """The name of this topic's dead-letter topic."""
        return dlq_name(self.name)


def dlq_name(topic: str) -> str:
    """The dead-letter topic of `topic`."""
    return f"{topic}.dlq"


DEALS = Topic("deals.v1", partitions=6, compacted=False, key="deal (source:external_id)")
ACTIVITIES = Topic("activities.v1", partitions=6, compacted=False, key="deal or owner")
PLANS = Topic("plans.v1", partitions=1, compacted=True, key="plan id")
PAYEES = Topic("payees.v1", partitions=1, compacted=True, key="payee id")
QUOTAS = Topic("quotas.v1", partitions=1, compacted=True, key="payee:period")
FXRATES = Topic("fxrates.v1", partitions=1, compacted=True, key="day:from:to")
CREDITS = Topic("credits.v1", partitions=6, compacted=False, key="payee")
LEDGER = Topic("ledger.v1", partitions=6, compacted=False, key="payee")
# payout-service -> finance systems: payout.batch_approved, payout.line_settled (a batch's
# events share a partition, so a line never settles before its batch is approved).
PAYOUTS = Topic("payouts.v1", partitions=3, compacted=False, key="batch id")

CATALOGUE: tuple[Topic, ...] = (
    DEALS,
    ACTIVITIES,
    PLANS,
    PAYEES,
    QUOTAS,
    FXRATES,
    CREDITS,
    LEDGER,
    PAYOUTS,
)


def all_topic_names() -> list[str]:
    """Every topic and its dead-letter topic."""
    names: list[str] = []
    for topic in CATALOGUE:
        names += [topic.name, topic.dlq]
    return names


async def ensure_topics(bootstrap: str, catalogue: tuple[Topic, ...] = CATALOGUE) -> list[str]:
    """Create every missing topic (and its DLQ); return the names that had to be created.

    Safe to call from every process at every start: an existing topic is left alone.
    A non-empty result on a running system means the broker lost its data.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted: list[NewTopic] = []
        for topic in catalogue:
            config = {"cleanup.policy": "compact"} if topic.compacted else {}
            if topic.name not in existing:
                wanted.append(NewTopic(topic.name, topic.partitions, 1, topic_configs=config))
            if topic.dlq not in existing:
                wanted.append(NewTopic(topic.dlq, 1, 1))
        created: list[str] = []
        for new_topic in wanted:
            try:
                response = await admin.create_topics([new_topic])
            except TopicAlreadyExistsError:
                continue
            for name, code, *_ in response.topic_errors:
                if code == 0:
                    created.append(name)
                elif code != TopicAlreadyExistsError.errno:
                    raise RuntimeError(f"creating topic {name} failed with Kafka error {code}")
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        await admin.close()
