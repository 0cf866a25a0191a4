"""Payee use cases on the fake unit of work."""

from __future__ import annotations

from typing import Any

import pytest
from quota_fakes import fake_store, fake_uow

from provisio_common.auth import Principal
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore
from quota_service.adapters.repositories import QuotaRepositories
from quota_service.domain.payees import PayeeIn
from quota_service.service_layer.changes import Put
from quota_service.service_layer.payees import get_payee, list_payees, put_payee

ADMIN = Principal("ada", "admin")


async def put(store: FakeStore[QuotaRepositories], payee_id: str, **body: Any) -> Put[dict[str, Any]]:
    return await put_payee(fake_uow(store), ADMIN, payee_id, PayeeIn.model_validate(body))


async def refused(store: FakeStore[QuotaRepositories], payee_id: str, **body: Any) -> Problem:
    with pytest.raises(Problem) as problem:
        await put(store, payee_id, **body)
    return problem.value


async def test_a_new_payee_is_created_published_whole_and_audited() -> None:
    store = fake_store()
    created = await put(store, "ann", name="Ann", crm_ids=["hubspot:1"])
    assert created.created
    assert created.value["id"] == "ann" and created.value["roles"] == ["rep"]
    [event] = store.published()
    assert (event.type, event.subject, event.source) == ("payee", "ann", "quota-service")
    assert event.data == created.value
    [audit] = store.audits
    assert (audit.actor, audit.action, audit.entity, audit.before) == ("ada", "payee.put", "payee:ann", None)
    assert await get_payee(fake_uow(store), ADMIN, "ann") == created.value


async def test_an_unchanged_payee_publishes_nothing() -> None:
    store = fake_store()
    await put(store, "ann", name="Ann")
    again = await put(store, "ann", name="Ann")
    assert not again.created and again.value["name"] == "Ann"
    assert len(store.published()) == 1 and len(store.audits) == 1


async def test_a_changed_payee_is_replaced_published_and_audited_with_before() -> None:
    store = fake_store()
    first = await put(store, "ann", name="Ann")
    second = await put(store, "ann", name="Ann B", team="east")
    assert not second.created
    assert [e.data["name"] for e in store.published()] == ["Ann", "Ann B"]
    assert store.audits[-1].before == first.value and store.audits[-1].after == second.value
    assert (await get_payee(fake_uow(store), ADMIN, "ann"))["team"] == "east"


async def test_an_unknown_manager_is_refused_naming_the_field() -> None:
    store = fake_store()
    problem = await refused(store, "bob", name="Bob", manager="nobody")
    assert problem.status == 422 and problem.errors == [{"field": "manager", "message": "no payee 'nobody'"}]
    assert await list_payees(fake_uow(store), ADMIN) == []


async def test_a_manager_loop_is_refused_naming_the_field() -> None:
    store = fake_store()
    await put(store, "boss", name="Boss", roles=["manager"])
    await put(store, "ann", name="Ann", manager="boss")
    problem = await refused(store, "boss", name="Boss", roles=["manager"], manager="ann")
    assert problem.status == 422
    assert problem.errors == [{"field": "manager", "message": "would make a management loop"}]
    assert (await get_payee(fake_uow(store), ADMIN, "boss"))["manager"] is None
    assert len(store.published()) == 2


async def test_a_payee_managing_itself_is_a_loop() -> None:
    store = fake_store()
    await put(store, "ann", name="Ann")
    problem = await refused(store, "ann", name="Ann", manager="ann")
    assert problem.status == 422 and problem.errors[0]["field"] == "manager"


async def test_a_crm_id_of_another_payee_is_a_conflict_naming_crm_ids() -> None:
    store = fake_store()
    await put(store, "ann", name="Ann", crm_ids=["hubspot:1", "hubspot:2"])
    problem = await refused(store, "bob", name="Bob", crm_ids=["hubspot:2", "hubspot:1", "hubspot:3"])
    assert problem.status == 409
    assert problem.detail == "crm_ids ['hubspot:1', 'hubspot:2'] already belong to payee 'ann'"
    assert problem.errors == [{"field": "crm_ids", "message": "already mapped to another payee"}]
    assert not await store.repos.payees.exists("bob")


async def test_a_payee_may_keep_its_own_crm_ids() -> None:
    store = fake_store()
    await put(store, "ann", name="Ann", crm_ids=["hubspot:1"])
    kept = await put(store, "ann", name="Ann", crm_ids=["hubspot:1", "pipedrive:9"])
    assert kept.value["crm_ids"] == ["hubspot:1", "pipedrive:9"]


async def test_a_payee_id_outside_the_allowed_characters_is_refused() -> None:
    problem = await refused(fake_store(), "ann smith", name="Ann")
    assert problem.status == 422 and problem.errors[0]["field"] == "payee_id"


async def test_an_unknown_payee_is_404() -> None:
    with pytest.raises(Problem) as missing:
        await get_payee(fake_uow(fake_store()), ADMIN, "zed")
    assert missing.value.status == 404 and missing.value.detail == "no payee 'zed'"


async def test_payees_are_listed_by_id() -> None:
    store = fake_store()
    for payee_id in ("cy", "ann", "bob"):
        await put(store, payee_id, name=payee_id.title())
    assert [p["id"] for p in await list_payees(fake_uow(store), ADMIN)] == ["ann", "bob", "cy"]
