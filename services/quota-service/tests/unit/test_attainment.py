"""Attainment on the fake unit of work: currencies converted before summing, quotas tiled
(PLANS.md rule 6), team roll-up, and who may see what."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from quota_fakes import fake_store, fake_uow

from provisio_common.auth import Principal
from provisio_common.events import CreditRecord
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore
from quota_service.adapters.repositories import QuotaRepositories
from quota_service.domain.kpis import MissingFx
from quota_service.domain.payees import PayeeIn
from quota_service.domain.teams import TeamIn
from quota_service.service_layer.attainment import attainment_of
from quota_service.service_layer.credits import on_credit
from quota_service.service_layer.fx import put_fx_rate
from quota_service.service_layer.payees import put_payee
from quota_service.service_layer.plans import put_plan
from quota_service.service_layer.quotas import put_quota
from quota_service.service_layer.teams import put_team

ADMIN = Principal("ada", "admin")
PLAN = """
id: eu
currency: EUR
period: quarter
effective: {from: 2027-01-01, to: 2027-12-31}
components:
  - {id: base, kind: commission, rate: "0.1"}
"""


async def planned() -> FakeStore[QuotaRepositories]:
    """boss manages ann; cy is elsewhere."""
    store = fake_store()
    for payee_id, manager in (("boss", None), ("ann", "boss"), ("cy", None)):
        await put_payee(fake_uow(store), ADMIN, payee_id, PayeeIn(name=payee_id, manager=manager))
    return store


async def credit(store: FakeStore[QuotaRepositories], deal: str, amount: str, **fields: Any) -> None:
    data = {
        "deal": deal,
        "revision": 1,
        "payee": "ann",
        "share": "1",
        "amount": amount,
        "currency": "USD",
        "status": "won",
        "close_date": "2027-02-10",
        **fields,
    }
    async with fake_uow(store) as uow:
        await on_credit(uow, CreditRecord.model_validate(data))
        await uow.commit()


async def test_attainment_is_won_value_closing_in_the_period_over_the_quota() -> None:
    store = await planned()
    await put_quota(fake_uow(store), ADMIN, "ann", "2027-Q1", Decimal("1000"))
    await credit(store, "d1", "250")
    await credit(store, "d2", "125.5", close_date="2027-03-31")
    await credit(store, "d3", "999", status="lost")
    await credit(store, "d4", "999", close_date="2027-04-01")
    await credit(store, "d5", "999", close_date=None)
    await credit(store, "d6", "999", payee="cy")
    seen = await attainment_of(fake_uow(store), ADMIN, "ann", "2027-Q1", "USD")
    assert (seen.value, seen.quota, seen.attainment) == (Decimal("375.5"), Decimal("1000"), Decimal("37.55"))


async def test_amounts_are_converted_to_the_plan_currency_before_they_are_summed() -> None:
    store = await planned()
    await put_plan(fake_uow(store), ADMIN, "eu", PLAN)
    await put_payee(
        fake_uow(store), ADMIN, "ann", PayeeIn(name="ann", manager="boss", assignments=[{"plan": "eu"}])
    )
    await put_fx_rate(fake_uow(store), ADMIN, date(2027, 1, 1), "USD", "EUR", Decimal("0.5"))
    await put_fx_rate(fake_uow(store), ADMIN, date(2027, 2, 11), "USD", "EUR", Decimal("0.8"))
    await put_quota(fake_uow(store), ADMIN, "ann", "2027", Decimal("200"))
    await credit(store, "d1", "100")  # USD on 02-10: 0.5 -> 50 EUR
    await credit(store, "d2", "100", currency="EUR")
    await credit(store, "d3", "10", close_date="2027-02-11")  # 0.8 -> 8 EUR
    await credit(store, "d4", "999", currency="GBP")  # no GBP -> EUR rate: reported, left out
    seen = await attainment_of(fake_uow(store), ADMIN, "ann", "2027", "USD")
    assert (seen.currency, seen.value, seen.attainment) == ("EUR", Decimal("158"), Decimal("79"))
    assert seen.missing_fx == [MissingFx("d4", "GBP", date(2027, 2, 10))]


async def test_without_a_plan_the_payee_currency_then_the_reporting_currency_is_used() -> None:
    store = await planned()
    await credit(store, "d1", "100", currency="EUR")
    assert (await attainment_of(fake_uow(store), ADMIN, "ann", "2027", "EUR")).value == Decimal("100")
    await put_payee(fake_uow(store), ADMIN, "ann", PayeeIn(name="ann", manager="boss", currency="SEK"))
    seen = await attainment_of(fake_uow(store), ADMIN, "ann", "2027", "EUR")
    assert (seen.currency, seen.value, [m.item for m in seen.missing_fx]) == ("SEK", Decimal(0), ["d1"])


async def test_finer_quotas_tile_the_period_and_a_coarser_one_is_never_divided() -> None:
    store = await planned()
    for month, amount in (("2027-01", "100"), ("2027-02", "200"), ("2027-03", "300")):
        await put_quota(fake_uow(store), ADMIN, "ann", month, Decimal(amount))
    await put_quota(fake_uow(store), ADMIN, "ann", "2027-H2", Decimal("5000"))
    await credit(store, "d1", "300")
    quarter = await attainment_of(fake_uow(store), ADMIN, "ann", "2027-Q1", "USD")
    assert (quarter.quota, quarter.attainment) == (Decimal("600"), Decimal("50"))
    assert (await attainment_of(fake_uow(store), ADMIN, "ann", "2027-Q3", "USD")).quota is None
    assert (await attainment_of(fake_uow(store), ADMIN, "ann", "2027", "USD")).quota is None  # Q2 missing


async def team_store() -> FakeStore[QuotaRepositories]:
    """Team east (lead boss): ann all quarter, dan from 2027-02-15."""
    store = await planned()
    await put_payee(fake_uow(store), ADMIN, "dan", PayeeIn(name="dan", manager="boss"))
    body = TeamIn.model_validate(
        {
            "name": "East",
            "lead": "boss",
            "members": [{"payee": "ann"}, {"payee": "dan", "valid_from": "2027-02-15"}],
        }
    )
    await put_team(fake_uow(store), ADMIN, "east", body)
    return store


async def test_team_attainment_rolls_up_its_members_while_they_are_members() -> None:
    store = await team_store()
    await put_fx_rate(fake_uow(store), ADMIN, date(2027, 1, 1), "EUR", "USD", Decimal("1.5"))
    await put_quota(fake_uow(store), ADMIN, "ann", "2027-Q1", Decimal("1000"))
    await put_quota(fake_uow(store), ADMIN, "dan", "2027-Q1", Decimal("500"))
    await credit(store, "d1", "100", currency="EUR")  # ann: 150 USD
    await credit(store, "d2", "600", payee="dan", close_date="2027-02-01")  # before dan joined
    await credit(store, "d3", "300", payee="dan", close_date="2027-03-01")
    await credit(store, "d4", "999", payee="cy")
    seen = await attainment_of(fake_uow(store), ADMIN, "team:east", "2027-Q1", "USD")
    assert (seen.payee, seen.currency, seen.value, seen.quota, seen.attainment) == (
        "team:east",
        "USD",
        Decimal("450"),
        Decimal("1500"),
        Decimal("30"),
    )
    assert (seen.members, seen.members_without_quota) == (["ann", "dan"], [])


async def test_a_team_quota_is_missing_while_a_member_has_none() -> None:
    store = await team_store()
    await put_quota(fake_uow(store), ADMIN, "ann", "2027-Q1", Decimal("1000"))
    seen = await attainment_of(fake_uow(store), ADMIN, "team:east", "2027-Q1", "USD")
    assert (seen.quota, seen.attainment, seen.members_without_quota) == (None, None, ["dan"])


async def test_an_unknown_team_is_404() -> None:
    with pytest.raises(Problem) as missing:
        await attainment_of(fake_uow(await planned()), ADMIN, "team:west", "2027", "USD")
    assert missing.value.status == 404


async def test_without_a_quota_attainment_is_none() -> None:
    store = await planned()
    await credit(store, "d1", "250")
    seen = await attainment_of(fake_uow(store), ADMIN, "ann", "2027-02", "USD")
    assert (seen.value, seen.quota, seen.attainment) == (Decimal("250"), None, None)


async def test_a_zero_quota_gives_no_attainment() -> None:
    store = await planned()
    await put_quota(fake_uow(store), ADMIN, "ann", "2027", Decimal("0"))
    seen = await attainment_of(fake_uow(store), ADMIN, "ann", "2027", "USD")
    assert (seen.value, seen.quota, seen.attainment) == (Decimal("0"), Decimal("0"), None)


async def test_a_bad_period_is_refused_naming_period() -> None:
    with pytest.raises(Problem) as refused:
        await attainment_of(fake_uow(await planned()), ADMIN, "ann", "2027-Q5", "USD")
    assert refused.value.status == 422 and refused.value.errors[0]["field"] == "period"


@pytest.mark.parametrize(
    ("sub", "role", "payee", "allowed"),
    [
        ("ann", "rep", "ann", True),
        ("ann", "rep", "cy", False),
        ("boss", "manager", "ann", True),
        ("boss", "manager", "cy", False),
        ("ops-bot", "ops", "cy", True),
        ("pay", "payroll", "ann", True),
    ],
)
async def test_a_rep_sees_themselves_and_a_manager_their_subtree(
    sub: str, role: Any, payee: str, allowed: bool
) -> None:
    store = await planned()
    who = Principal(sub, role)
    if allowed:
        assert (await attainment_of(fake_uow(store), who, payee, "2027", "USD")).payee == payee
    else:
        with pytest.raises(Problem) as refused:
            await attainment_of(fake_uow(store), who, payee, "2027", "USD")
        assert refused.value.status == 403


@pytest.mark.parametrize(
    ("sub", "role", "allowed"),
    [("boss", "manager", True), ("ann", "manager", False), ("ann", "rep", False), ("o", "ops", True)],
)
async def test_a_team_is_seen_by_a_manager_above_its_lead_and_every_member(
    sub: str, role: Any, allowed: bool
) -> None:
    store = await team_store()
    who = Principal(sub, role)
    if allowed:
        assert (await attainment_of(fake_uow(store), who, "team:east", "2027", "USD")).members == [
            "ann",
            "dan",
        ]
    else:
        with pytest.raises(Problem) as refused:
            await attainment_of(fake_uow(store), who, "team:east", "2027", "USD")
        assert refused.value.status == 403
