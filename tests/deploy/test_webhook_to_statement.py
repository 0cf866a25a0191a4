"""Webhook -> statement latency end to end: deal-ingest stamps the acceptance time into the
deal's envelope, calc-engine carries it into the ledger entries it posts, payout-service
observes `provisio_webhook_to_statement_seconds` once per entry that lands with a stamp, and
never again for a redelivered entry.

Real services over HTTP, the embedded broker and Postgres (the e2e `stack`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from provisio_common.events import Envelope
from provisio_common.ids import new_id
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import eventually
from provisio_common.topics import DEALS, LEDGER, Topic
from tests.e2e.conftest import Stack, stack
from tests.e2e.test_deal_through import PAY_PERIOD, auth, deal, send, setup_company

__all__ = ["stack"]  # the e2e fixture, used here

HISTOGRAM = "provisio_webhook_to_statement_seconds"


async def sample(client: httpx.AsyncClient, url: str, name: str, **labels: str) -> float:
    """One sample of a service's /metrics (0 when absent)."""
    text = (await client.get(f"{url}/metrics")).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def ledger_handled(client: httpx.AsyncClient, stack: Stack, outcome: str) -> float:
    return await sample(
        client,
        stack.payout,
        "provisio_consumer_messages_total",
        consumer="payout-service",
        topic=LEDGER.name,
        outcome=outcome,
    )


async def messages(settings: ProvisioSettings, topic: Topic) -> list[tuple[bytes, bytes]]:
    """Every (key, value) on a topic up to its end offsets now."""
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        ends = await reader.end_offsets(partitions)
        out: list[tuple[bytes, bytes]] = []

        async def behind() -> bool:
            return any([await reader.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            batch = await reader.getmany(*partitions, timeout_ms=500)
            out += [(m.key or b"", m.value or b"") for msgs in batch.values() for m in msgs]
        return out
    finally:
        await reader.stop()


async def test_each_stamped_entry_is_observed_once_and_a_redelivered_one_never_again(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await setup_company(client, stack)
        before = await sample(client, stack.payout, f"{HISTOGRAM}_count")
        sent_at = datetime.now(UTC)
        r = await send(client, stack, "latency-1", {"type": "deal.snapshot", "data": deal("won")})
        assert r.status_code == 202, r.text
        answered_at = datetime.now(UTC)
        ann = auth(stack, "rep", "ann")

        async def payable(amount: str) -> bool:
            r = await client.get(f"{stack.payout}/statements/ann", headers=ann)
            periods = r.json().get("pay_periods", []) if r.status_code == 200 else []
            return any(p["pay_period"] == PAY_PERIOD and p["payable"] == amount for p in periods)

        await eventually(lambda: payable("125.00"))

        # deal-ingest stamped the deal when it accepted the webhook; calc-engine carried it.
        [(_, raw_deal)] = await messages(stack.settings, DEALS)
        accepted_at = Envelope.from_bytes(raw_deal).accepted_at
        assert accepted_at is not None and sent_at <= accepted_at <= answered_at
        ledger = await messages(stack.settings, LEDGER)
        entries = [Envelope.from_bytes(value) for _, value in ledger]
        assert entries and [e.accepted_at for e in entries] == [accepted_at] * len(entries)

        async def observed(count: float) -> bool:
            return await sample(client, stack.payout, f"{HISTOGRAM}_count") == count

        await eventually(lambda: observed(before + len(entries)))
        assert await sample(client, stack.payout, f"{HISTOGRAM}_bucket", le="+Inf") == before + len(entries)

        # Redeliveries: the same message again (the inbox drops it), and the same entry in a
        # new envelope (re-published: the ledger copy keeps it once). Then a new entry without
        # a stamp (as a recompute posts), which lands but is not observed.
        key, raw_entry = ledger[0]
        entry = Envelope.from_bytes(raw_entry)
        duplicates = await ledger_handled(client, stack, "duplicate")
        applied = await ledger_handled(client, stack, "applied")
        republished = entry.model_copy(update={"id": new_id()})
        unstamped = entry.model_copy(
            update={"id": new_id(), "accepted_at": None, "data": {**entry.data, "entry_id": new_id()}}
        )
        producer = AIOKafkaProducer(bootstrap_servers=stack.settings.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(LEDGER.name, raw_entry, key=key)
            await producer.send_and_wait(LEDGER.name, republished.to_bytes(), key=key)
            await producer.send_and_wait(LEDGER.name, unstamped.to_bytes(), key=key)
        finally:
            await producer.stop()

        async def handled() -> bool:
            return (
                await ledger_handled(client, stack, "duplicate"),
                await ledger_handled(client, stack, "applied"),
            ) == (duplicates + 1, applied + 2)

        await eventually(handled)
        await eventually(lambda: payable("250.00"))  # the unstamped entry landed; the copy did not
        assert await sample(client, stack.payout, f"{HISTOGRAM}_count") == before + len(entries)
