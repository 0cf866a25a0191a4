"""FX rate use cases on the fake unit of work."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from quota_fakes import fake_store, fake_uow

from provisio_common.auth import Principal
from provisio_common.problems import Problem
from quota_service.service_layer.fx import list_fx_rates, put_fx_rate

ADMIN = Principal("ada", "admin")
DAY = date(2027, 1, 1)


async def test_a_new_rate_is_created_published_and_audited() -> None:
    store = fake_store()
    put = await put_fx_rate(fake_uow(store), ADMIN, DAY, "EUR", "USD", Decimal("1.0825"))
    assert put.created and put.value.rate == Decimal("1.0825")
    [event] = store.published()
    assert (event.type, event.subject) == ("fx.rate", "2027-01-01:EUR:USD")
    assert event.data == {"day": "2027-01-01", "from_currency": "EUR", "to_currency": "USD", "rate": "1.0825"}
    [audit] = store.audits
    assert (audit.action, audit.entity, audit.before, audit.after) == (
        "fx.put",
        "fx:2027-01-01:EUR:USD",
        None,
        "1.0825",
    )


async def test_an_unchanged_rate_publishes_nothing() -> None:
    store = fake_store()
    await put_fx_rate(fake_uow(store), ADMIN, DAY, "EUR", "USD", Decimal("1.08"))
    again = await put_fx_rate(fake_uow(store), ADMIN, DAY, "EUR", "USD", Decimal("1.080"))
    assert not again.created and str(again.value.rate) == "1.08"
    assert len(store.published()) == 1 and len(store.audits) == 1


async def test_a_changed_rate_is_replaced_and_audited_with_the_old_rate() -> None:
    store = fake_store()
    await put_fx_rate(fake_uow(store), ADMIN, DAY, "EUR", "USD", Decimal("1.08"))
    changed = await put_fx_rate(fake_uow(store), ADMIN, DAY, "EUR", "USD", Decimal("1.09"))
    assert not changed.created and changed.value.rate == Decimal("1.09")
    assert (store.audits[-1].before, store.audits[-1].after) == ("1.08", "1.09")
    assert [r.rate for r in await list_fx_rates(fake_uow(store))] == [Decimal("1.09")]


@pytest.mark.parametrize(
    ("source", "target", "rate", "fields"),
    [
        ("EURO", "USD", "1.1", ["source"]),
        ("EUR", "usd", "1.1", ["target"]),
        ("USD", "USD", "1", ["target"]),
        ("EUR", "USD", "0", ["rate"]),
        ("XXX1", "XXX1", "-1", ["source", "target", "target", "rate"]),
    ],
)
async def test_a_bad_currency_code_or_rate_is_refused_naming_each_field(
    source: str, target: str, rate: str, fields: list[str]
) -> None:
    store = fake_store()
    with pytest.raises(Problem) as refused:
        await put_fx_rate(fake_uow(store), ADMIN, DAY, source, target, Decimal(rate))
    assert refused.value.status == 422 and [e["field"] for e in refused.value.errors] == fields
    assert store.published() == []


async def test_rates_are_listed_by_day() -> None:
    store = fake_store()
    await put_fx_rate(fake_uow(store), ADMIN, date(2027, 2, 1), "EUR", "USD", Decimal("1.1"))
    await put_fx_rate(fake_uow(store), ADMIN, DAY, "GBP", "USD", Decimal("1.3"))
    await put_fx_rate(fake_uow(store), ADMIN, DAY, "EUR", "USD", Decimal("1.08"))
    listed = [(r.day, r.source) for r in await list_fx_rates(fake_uow(store))]
    assert listed == [(DAY, "EUR"), (DAY, "GBP"), (date(2027, 2, 1), "EUR")]
