"""Plan use cases on the fake unit of work."""

from __future__ import annotations

import pytest
from quota_fakes import fake_store, fake_uow

from provisio_common.auth import Principal
from provisio_common.problems import Problem
from quota_service.service_layer.plans import get_plan, list_plans, put_plan

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


async def test_a_new_plan_becomes_version_1_published_and_audited() -> None:
    store = fake_store()
    put = await put_plan(fake_uow(store), ADMIN, "ae", PLAN)
    assert put.created and put.value.version == 1 and put.value.created_by == "ada"
    assert put.value.source_text == PLAN
    [event] = store.published()
    assert (event.type, event.subject, event.data["version"]) == ("plan.version", "ae", 1)
    assert event.data["document"] == put.value.document
    [audit] = store.audits
    assert (audit.action, audit.entity, audit.before) == ("plan.put", "plan:ae", None)
    assert audit.after == put.value.document


async def test_the_same_plan_again_keeps_the_version_and_publishes_nothing() -> None:
    store = fake_store()
    await put_plan(fake_uow(store), ADMIN, "ae", PLAN)
    again = await put_plan(fake_uow(store), ADMIN, "ae", PLAN)
    assert not again.created and again.value.version == 1
    assert len(store.published()) == 1 and len(store.audits) == 1


async def test_a_changed_plan_becomes_the_next_version_audited_against_the_previous() -> None:
    store = fake_store()
    first = await put_plan(fake_uow(store), ADMIN, "ae", PLAN)
    second = await put_plan(fake_uow(store), ADMIN, "ae", PLAN.replace("rate: 0.10", "rate: 0.12"))
    assert second.created and second.value.version == 2
    assert second.value.document["components"][0]["rate"] == "0.12"
    assert [e.data["version"] for e in store.published()] == [1, 2]
    assert store.audits[-1].before == first.value.document


async def test_a_version_changing_what_versions_share_is_refused_naming_the_field() -> None:
    store = fake_store()
    await put_plan(fake_uow(store), ADMIN, "ae", PLAN)
    with pytest.raises(Problem) as refused:
        await put_plan(fake_uow(store), ADMIN, "ae", PLAN.replace("currency: USD", "currency: EUR"))
    assert refused.value.status == 422
    assert [e["field"] for e in refused.value.errors] == ["currency"]
    assert [e.data["version"] for e in store.published()] == [1] and len(store.audits) == 1


async def test_a_bad_plan_is_refused_naming_every_path_and_nothing_is_stored() -> None:
    store = fake_store()
    bad = PLAN.replace("currency: USD\n", "").replace("rate: 0.10", "rate: ten")
    with pytest.raises(Problem) as refused:
        await put_plan(fake_uow(store), ADMIN, "ae", bad)
    assert refused.value.status == 422
    assert {"currency", "components[0].rate"} <= {e["field"] for e in refused.value.errors}
    assert store.published() == [] and store.audits == []
    assert await list_plans(fake_uow(store), ADMIN) == []


async def test_a_plan_whose_id_differs_from_the_url_is_refused_naming_id() -> None:
    with pytest.raises(Problem) as refused:
        await put_plan(fake_uow(fake_store()), ADMIN, "other", PLAN)
    assert refused.value.status == 422 and refused.value.errors[0]["field"] == "id"


async def test_get_plan_gives_the_latest_or_the_asked_version_and_404_otherwise() -> None:
    store = fake_store()
    await put_plan(fake_uow(store), ADMIN, "ae", PLAN)
    await put_plan(fake_uow(store), ADMIN, "ae", PLAN.replace("rate: 0.10", "rate: 0.12"))
    assert (await get_plan(fake_uow(store), ADMIN, "ae")).version == 2
    assert (await get_plan(fake_uow(store), ADMIN, "ae", 1)).document["components"][0]["rate"] == "0.10"
    with pytest.raises(Problem) as missing:
        await get_plan(fake_uow(store), ADMIN, "ae", 3)
    assert missing.value.status == 404 and missing.value.detail == "no plan 'ae' version 3"
    with pytest.raises(Problem) as unknown:
        await get_plan(fake_uow(store), ADMIN, "zz")
    assert unknown.value.detail == "no plan 'zz'"


async def test_list_plans_gives_each_plan_at_its_latest_version() -> None:
    store = fake_store()
    await put_plan(fake_uow(store), ADMIN, "ae", PLAN)
    await put_plan(fake_uow(store), ADMIN, "ae", PLAN.replace("rate: 0.10", "rate: 0.12"))
    await put_plan(fake_uow(store), ADMIN, "ab", PLAN.replace("id: ae", "id: ab"))
    assert [(p.plan_id, p.version) for p in await list_plans(fake_uow(store), ADMIN)] == [
        ("ab", 1),
        ("ae", 2),
    ]
