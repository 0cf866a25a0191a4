"""payout-service's ops metrics on the fake unit of work: pay periods by status, and the
webhook -> statement latency of ledger entries (first landing of a stamped entry only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from aiokafka.structs import ConsumerRecord
from payout_fakes import fake_store, fake_uow, payee_record
from payout_steps import ADMIN, TODAY, Store, close, consume, entry
from prometheus_client import REGISTRY

from payout_service.adapters import metrics
from payout_service.consumers.spec import consumers
from payout_service.service_layer.adjustments import create_adjustment
from payout_service.service_layer.handlers import on_ledger_entry, on_payee
from payout_service.service_layer.pay_periods import list_pay_periods, pay_periods_in
from provisio_common.events import Envelope
from provisio_common.inbox import InboxConsumer
from provisio_common.routes import outgoing
from provisio_common.topics import LEDGER


def pay_periods() -> dict[str, float | None]:
    return {s: REGISTRY.get_sample_value("provisio_pay_periods", {"status": s}) for s in ("open", "closed")}


def observed() -> float:
    return REGISTRY.get_sample_value("provisio_webhook_to_statement_seconds_count") or 0.0


async def test_the_pay_period_gauge_follows_entries_closes_and_adjustments() -> None:
    store = fake_store()
    async with fake_uow(store) as uow:  # what the service shows at start, from its database
        metrics.show_pay_periods({p.pay_period: p.status for p in await pay_periods_in(uow)})
    assert pay_periods() == {"open": 0, "closed": 0}
    await consume(store, on_ledger_entry, entry("e1", "100", "2027-01-10"))
    await consume(store, on_ledger_entry, entry("e2", "50", "2027-03-02"))
    await consume(store, on_ledger_entry, entry("e3", "50", "2027-03-05"))
    assert pay_periods() == {"open": 2, "closed": 0}
    await close(store, "2027-01")
    assert pay_periods() == {"open": 1, "closed": 1}
    await consume(store, on_ledger_entry, entry("late", "-10", "2027-01-20"))  # lands in 2027-02
    assert pay_periods() == {"open": 2, "closed": 1}
    await consume(store, on_payee, payee_record("ann"))
    await create_adjustment(
        fake_uow(store),
        ADMIN,
        payee="ann",
        amount=Decimal("5"),
        currency="USD",
        reason="spiff",
        pay_period="2027-06",
        today=TODAY,
    )
    assert pay_periods() == {"open": 3, "closed": 1}
    listed = await list_pay_periods(fake_uow(store))  # the gauge counts what the API lists
    assert len([p for p in listed if p.status == "open"]) == 3


def ledger_message(env: Envelope, offset: int) -> ConsumerRecord[bytes, bytes]:
    raw = env.to_bytes()
    return ConsumerRecord(LEDGER.name, 0, offset, 0, 0, b"ann", raw, None, 1, len(raw), [])


class NoDlq:
    async def send_and_wait(self, topic: str, value: bytes, **kwargs: Any) -> None:
        raise AssertionError(f"nothing is dead-lettered here: {value!r}")


def consumer_on(store: Store) -> InboxConsumer:
    [spec] = consumers()
    return InboxConsumer(
        service="payout-service",
        name=spec.name,
        handlers=spec.handlers,
        uow=lambda: fake_uow(store),
        consumer=None,
        producer=NoDlq(),
    )


async def test_a_stamped_entry_is_observed_once_when_it_first_lands() -> None:
    store = fake_store()
    consumer = consumer_on(store)
    accepted = datetime.now(UTC) - timedelta(seconds=3)
    stamped = outgoing(entry("s1", "100", "2027-01-10"), "calc-engine", accepted).envelope
    before = observed()
    latency_sum = REGISTRY.get_sample_value("provisio_webhook_to_statement_seconds_sum") or 0.0

    assert (await consumer.process(ledger_message(stamped, 0))).applied
    assert observed() == before + 1
    summed = REGISTRY.get_sample_value("provisio_webhook_to_statement_seconds_sum") or 0.0
    assert summed - latency_sum >= 3  # accepted three seconds before it landed

    # Redelivered: the same envelope (the inbox), or re-published in a new one (the ledger).
    assert (await consumer.process(ledger_message(stamped, 1))).duplicate
    again = stamped.model_copy(update={"id": "re-published"})
    assert (await consumer.process(ledger_message(again, 2))).applied
    # An entry without a stamp (a recompute, a plan change) lands but is not observed.
    plain = outgoing(entry("p1", "100", "2027-01-11"), "calc-engine").envelope
    assert (await consumer.process(ledger_message(plain, 3))).applied
    assert observed() == before + 1
    assert sorted(e.entry_id for e in await store.repos.ledger.by_payee("ann")) == ["p1", "s1"]
