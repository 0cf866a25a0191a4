"""Quota use cases on the fake unit of work."""

from __future__ import annotations

from decimal import Decimal

import pytest
from quota_fakes import fake_store, fake_uow

from provisio_common.auth import Principal
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore
from quota_service.adapters.repositories import QuotaRepositories
from quota_service.domain.payees import PayeeIn
from quota_service.service_layer.payees import put_payee
from quota_service.service_layer.quotas import get_quota, list_quotas, put_quota

ADMIN = Principal("ada", "admin")


async def with_payees(*payee_ids: str) -> FakeStore[QuotaRepositories]:
    store = fake_store()
    for payee_id in payee_ids:
        await put_payee(fake_uow(store), ADMIN, payee_id, PayeeIn(name=payee_id))
    store.outbox.clear()
    store.audits.clear()
    return store


async def test_a_new_quota_is_created_published_and_audited() -> None:
    store = await with_payees("ann")
    put = await put_quota(fake_uow(store), ADMIN, "ann", "2027-Q1", Decimal("150000"))
    assert put.created and put.value.amount == Decimal("150000")
    [event] = store.published()
    assert (event.type, event.subject, event.data) == (
        "quota",
        "ann:2027-Q1",
        {"payee": "ann", "period": "2027-Q1", "amount": "150000"},
    )
    [audit] = store.audits
    assert (audit.action, audit.entity, audit.before, audit.after) == (
        "quota.put",
        "quota:ann:2027-Q1",
        None,
        "150000",
    )


async def test_an_unchanged_quota_publishes_nothing_and_answers_the_stored_amount() -> None:
    store = await with_payees("ann")
    await put_quota(fake_uow(store), ADMIN, "ann", "2027", Decimal("100"))
    again = await put_quota(fake_uow(store), ADMIN, "ann", "2027", Decimal("100.00"))
    assert not again.created and str(again.value.amount) == "100"
    assert len(store.published()) == 1 and len(store.audits) == 1


async def test_a_changed_quota_is_replaced_and_audited_with_the_old_amount() -> None:
    store = await with_payees("ann")
    await put_quota(fake_uow(store), ADMIN, "ann", "2027", Decimal("100"))
    changed = await put_quota(fake_uow(store), ADMIN, "ann", "2027", Decimal("120"))
    assert not changed.created and changed.value.amount == Decimal("120")
    assert (store.audits[-1].before, store.audits[-1].after) == ("100", "120")
    assert (await get_quota(fake_uow(store), ADMIN, "ann", "2027")).amount == Decimal("120")


async def test_quota_for_unknown_payee_is_refused() -> None:
    store = await with_payees()
    with pytest.raises(Problem) as refused:
        await put_quota(fake_uow(store), ADMIN, "zed", "2027", Decimal("1"))
    assert refused.value.status == 422 and refused.value.errors == [
        {"field": "payee", "message": "no payee 'zed'"}
    ]
    assert store.published() == [] and await list_quotas(fake_uow(store), ADMIN) == []


@pytest.mark.parametrize(
    ("period", "amount", "field"),
    [("2027-Q5", "1", "period"), ("27", "1", "period"), ("2027", "-1", "amount")],
)
async def test_a_bad_period_or_negative_amount_is_refused_naming_the_field(
    period: str, amount: str, field: str
) -> None:
    store = await with_payees("ann")
    with pytest.raises(Problem) as refused:
        await put_quota(fake_uow(store), ADMIN, "ann", period, Decimal(amount))
    assert refused.value.status == 422 and refused.value.errors[0]["field"] == field


async def test_a_missing_quota_is_404() -> None:
    with pytest.raises(Problem) as missing:
        await get_quota(fake_uow(fake_store()), ADMIN, "ann", "2027")
    assert missing.value.status == 404 and missing.value.detail == "no quota for 'ann' in '2027'"


async def test_quotas_are_listed_by_payee_and_period_and_filtered_by_payee() -> None:
    store = await with_payees("ann", "bob")
    for payee, period in (("bob", "2027"), ("ann", "2027-Q2"), ("ann", "2027-Q1")):
        await put_quota(fake_uow(store), ADMIN, payee, period, Decimal("1"))
    listed = await list_quotas(fake_uow(store), ADMIN)
    assert [(q.payee, q.period) for q in listed] == [("ann", "2027-Q1"), ("ann", "2027-Q2"), ("bob", "2027")]
    assert [q.period for q in await list_quotas(fake_uow(store), ADMIN, "ann")] == ["2027-Q1", "2027-Q2"]
