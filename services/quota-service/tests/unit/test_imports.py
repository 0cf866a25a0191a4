"""Bulk import on the fake unit of work: dry runs report every problem, real runs are all
or nothing, published and audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from quota_fakes import fake_store, fake_uow

from provisio_common.auth import Principal
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore
from quota_service.adapters.repositories import QuotaRepositories
from quota_service.domain.imports import RowError
from quota_service.domain.payees import PayeeIn
from quota_service.domain.teams import TeamIn
from quota_service.service_layer.imports import import_payees, import_quotas, import_targets
from quota_service.service_layer.payees import put_payee
from quota_service.service_layer.teams import put_team

ADMIN = Principal("ada", "admin")

PAYEES = """id,name,manager,roles,team,territories
boss,Boss,,manager,,
ann,Ann,boss,rep,east,DE|FR
bob,Bob,boss,,east,
"""


async def existing() -> FakeStore[QuotaRepositories]:
    store = fake_store()
    body = PayeeIn.model_validate({"name": "Bob", "crm_ids": ["hubspot:2"], "assignments": [{"plan": "ae"}]})
    await put_payee(fake_uow(store), ADMIN, "bob", body)
    store.outbox.clear()
    store.audits.clear()
    return store


async def test_a_dry_run_says_what_would_change_and_writes_nothing() -> None:
    store = await existing()
    report = await import_payees(fake_uow(store), ADMIN, PAYEES, dry_run=True)
    assert (report.rows, report.created, report.updated, report.unchanged, report.errors) == (3, 2, 1, 0, [])
    assert store.published() == [] and store.audits == [] and not await store.repos.payees.exists("ann")


async def test_a_real_run_writes_every_row_publishes_each_change_audits_once_and_keeps_other_fields() -> None:
    store = await existing()
    bob_before = await store.repos.payees.document("bob")
    report = await import_payees(fake_uow(store), ADMIN, PAYEES, dry_run=False)
    assert (report.created, report.updated, report.unchanged) == (2, 1, 0)
    assert [e.subject for e in store.published()] == ["boss", "ann", "bob"]
    [audit] = store.audits
    assert (audit.actor, audit.action, audit.entity) == ("ada", "payee.import", "import:payees")
    assert list(audit.after) == ["payee:boss", "payee:ann", "payee:bob"]
    assert audit.before == {"payee:bob": bob_before}
    assert audit.after["payee:ann"]["manager"] == "boss"
    bob = await store.repos.payees.document("bob")
    assert bob is not None and (bob["manager"], bob["crm_ids"], bob["assignments"][0]["plan"]) == (
        "boss",
        ["hubspot:2"],
        "ae",
    )
    ann = await store.repos.payees.document("ann")
    assert ann is not None and (ann["team"], ann["territories"]) == ("east", ["DE", "FR"])
    again = await import_payees(fake_uow(store), ADMIN, PAYEES, dry_run=False)
    assert (again.unchanged, len(store.published()), len(store.audits)) == (3, 3, 1)  # nothing changed


async def test_a_file_with_problems_is_reported_dry_and_refused_whole_for_real() -> None:
    store = await existing()
    text = PAYEES + "cy,Cy,zed,rep,,\ndan,,,,,\n"
    dry = await import_payees(fake_uow(store), ADMIN, text, dry_run=True)
    assert dry.errors == [
        RowError(5, "manager", "no payee 'zed'"),
        RowError(6, "name", "is required for a new payee"),
    ]
    with pytest.raises(Problem) as refused:
        await import_payees(fake_uow(store), ADMIN, text, dry_run=False)
    assert refused.value.status == 422
    assert refused.value.errors == [
        {"field": "row 5: manager", "message": "no payee 'zed'"},
        {"field": "row 6: name", "message": "is required for a new payee"},
    ]
    assert store.published() == [] and not await store.repos.payees.exists("boss")


async def test_a_bad_header_is_a_problem_of_row_1() -> None:
    report = await import_quotas(fake_uow(fake_store()), ADMIN, "payee,amount\n", dry_run=True)
    assert report.errors == [RowError(1, "period", "missing column")]


async def test_quotas_are_imported_published_and_audited() -> None:
    store = await existing()
    text = "payee,period,amount\nbob,2027-Q1,1000\nbob,2027-Q2,1200.50\n"
    report = await import_quotas(fake_uow(store), ADMIN, text, dry_run=False)
    assert (report.rows, report.created) == (2, 2)
    assert [(e.type, e.data["amount"]) for e in store.published()] == [
        ("quota", "1000"),
        ("quota", "1200.50"),
    ]
    [audit] = store.audits
    assert (audit.action, audit.entity, audit.before) == ("quota.import", "import:quotas", {})
    assert audit.after == {"quota:bob:2027-Q1": "1000", "quota:bob:2027-Q2": "1200.50"}
    changed = await import_quotas(fake_uow(store), ADMIN, text.replace("1000", "1100"), dry_run=True)
    assert (changed.updated, changed.unchanged) == (1, 1)
    with pytest.raises(Problem) as refused:
        await import_quotas(fake_uow(store), ADMIN, "payee,period,amount\nzed,2027,1\n", dry_run=False)
    assert refused.value.errors[0]["field"] == "row 2: payee"


async def test_targets_are_imported_and_audited_not_published() -> None:
    store = await existing()
    await put_team(fake_uow(store), ADMIN, "east", TeamIn(name="East", lead="bob"))
    text = "subject,kpi,period,value\nteam:east,revenue,2027-Q1,50000\npayee:bob,calls,2027-01,120\n"
    report = await import_targets(fake_uow(store), ADMIN, text, dry_run=False)
    assert (report.rows, report.created) == (2, 2)
    assert store.published() == []
    [audit] = [a for a in store.audits if a.action == "target.import"]
    assert (audit.entity, audit.after) == (
        "import:targets",
        {"target:team:east:revenue:2027-Q1": "50000", "target:payee:bob:calls:2027-01": "120"},
    )
    held = await store.repos.targets.get("payee:bob", "calls", "2027-01")
    assert held is not None and held.value == Decimal(120)
