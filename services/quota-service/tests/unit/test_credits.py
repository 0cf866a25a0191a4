"""The credits.v1 handler and the consumer spec, on the fake unit of work."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from quota_fakes import fake_store, fake_uow

from provisio_common.events import CreditRecord
from provisio_common.testing.fakes import FakeStore
from quota_service.adapters.repositories import QuotaRepositories
from quota_service.consumers.spec import consumers
from quota_service.domain.credits import Credit
from quota_service.service_layer.credits import on_credit


def credit(revision: int, amount: str = "100", **fields: Any) -> CreditRecord:
    data = {
        "deal": "hubspot:7",
        "revision": revision,
        "payee": "ann",
        "share": "1",
        "amount": amount,
        "currency": "USD",
        "status": "won",
        "close_date": "2027-02-10",
        **fields,
    }
    return CreditRecord.model_validate(data)


async def deliver(store: FakeStore[QuotaRepositories], *records: CreditRecord) -> None:
    """As the consumer does: each record in its own unit of work, committed after the handler."""
    for record in records:
        async with fake_uow(store) as uow:
            await on_credit(uow, record)
            await uow.commit()


async def held(store: FakeStore[QuotaRepositories]) -> Credit | None:
    return await store.repos.credits.get("hubspot:7", "ann")


async def test_a_credit_is_kept_with_its_close_day() -> None:
    store = fake_store()
    await deliver(store, credit(1))
    assert await held(store) == Credit("hubspot:7", "ann", 1, Decimal("100"), "USD", "won", date(2027, 2, 10))


async def test_a_newer_credit_revision_replaces_the_older_one() -> None:
    store = fake_store()
    await deliver(store, credit(1, "100"), credit(2, "250", status="lost"))
    kept = await held(store)
    assert kept is not None and (kept.revision, kept.amount, kept.status) == (2, Decimal("250"), "lost")


async def test_older_credit_revision_does_not_replace_a_newer_one() -> None:
    store = fake_store()
    await deliver(store, credit(3, "300"), credit(2, "200"))
    kept = await held(store)
    assert kept is not None and (kept.revision, kept.amount) == (3, Decimal("300"))


async def test_the_same_revision_credited_again_replaces_the_held_one() -> None:
    store = fake_store()
    await deliver(store, credit(2, "200"), credit(2, "210"))
    kept = await held(store)
    assert kept is not None and kept.amount == Decimal("210")


async def test_a_close_timestamp_keeps_only_its_day_and_none_stays_none() -> None:
    store = fake_store()
    await deliver(store, credit(1, close_date=datetime(2027, 3, 31, 23, 30)))
    kept = await held(store)
    assert kept is not None and kept.close_date == date(2027, 3, 31)
    await deliver(store, credit(2, close_date=None))
    kept = await held(store)
    assert kept is not None and kept.close_date is None


async def test_the_handler_publishes_and_audits_nothing() -> None:
    store = fake_store()
    await deliver(store, credit(1))
    assert store.published() == [] and store.audits == []


def test_the_consumer_spec_sends_each_credit_to_its_handler() -> None:
    [spec] = consumers()
    assert spec.name == "quota-service"
    assert spec.handlers[CreditRecord] is on_credit
    assert "credits.v1" in spec.topics and spec.finisher is None
