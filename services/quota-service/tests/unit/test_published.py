"""What quota-service says it published (for calc-engine's input check) and publishing
chosen keys again, on the fake unit of work."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from quota_fakes import fake_store, fake_uow

from provisio_common.auth import Principal
from provisio_common.inputs import RepublishRequest, payee_digest
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore
from quota_service.adapters.repositories import QuotaRepositories
from quota_service.domain.payees import PayeeIn
from quota_service.service_layer.fx import put_fx_rate
from quota_service.service_layer.payees import put_payee
from quota_service.service_layer.plans import put_plan
from quota_service.service_layer.published import republish, summary
from quota_service.service_layer.quotas import put_quota

ADMIN = Principal("ada", "admin")
PLAN = """
id: ae
currency: USD
period: quarter
effective: {from: 2027-01-01, to: 2027-12-31}
components:
  - id: base
    kind: commission
    measure: {metric: amount}
    rate: 0.10
"""


async def company() -> FakeStore[QuotaRepositories]:
    store = fake_store()
    await put_plan(fake_uow(store), ADMIN, "ae", PLAN)
    await put_plan(fake_uow(store), ADMIN, "ae", PLAN.replace("0.10", "0.12"))
    await put_payee(fake_uow(store), ADMIN, "ann", PayeeIn(name="Ann"))
    await put_quota(fake_uow(store), ADMIN, "ann", "2027-Q1", Decimal("100000"))
    await put_fx_rate(fake_uow(store), ADMIN, date(2027, 1, 1), "EUR", "USD", Decimal("1.08"))
    return store


async def test_the_summary_is_every_version_payee_quota_and_rate() -> None:
    store = await company()
    found = await summary(fake_uow(store))
    ann = {"id": "ann", "name": "Ann"}
    assert found.plans == {"ae": [1, 2]}
    assert found.payees == {"ann": payee_digest(ann)}
    assert found.quotas == {"ann:2027-Q1": "100000"}
    assert found.fx_rates == {"2027-01-01:EUR:USD": "1.08"}


async def test_republishing_sends_the_current_state_and_a_deletion_for_a_key_not_held() -> None:
    store = await company()
    before = len(store.published())
    request = RepublishRequest(
        plans=["ae", "ae"], payees=["ann", "nobody"], quotas=["ann:2027-Q1", "bob:2027-Q1"], fx_rates=[]
    )
    done = await republish(fake_uow(store), ADMIN, request)
    assert done.model_dump() == {"plans": 2, "payees": 1, "quotas": 2, "fx_rates": 0}
    again = store.published()[before:]
    assert [(e.type, e.subject) for e in again] == [
        ("plan.version", "ae"),
        ("plan.version", "ae"),
        ("payee", "ann"),
        ("quota", "ann:2027-Q1"),
        ("quota", "bob:2027-Q1"),
    ]
    assert [e.data["version"] for e in again[:2]] == [1, 2]
    assert (again[3].data["amount"], again[4].data["amount"]) == ("100000", None)
    assert store.audits[-1].action == "inputs.republish"


async def test_a_key_that_is_not_one_is_a_422_naming_its_kind() -> None:
    with pytest.raises(Problem) as refused:
        await republish(fake_uow(fake_store()), ADMIN, RepublishRequest(quotas=["nocolon"], fx_rates=["x:y"]))
    assert [e["field"] for e in refused.value.errors or []] == ["quotas", "fx_rates"]
