"""recompute and the read use cases, and the routes over them, on the fake unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from calc_fakes import (
    YEAR,
    CalcStore,
    consume,
    deal,
    drift,
    fake_uow,
    ledger_rows,
    ledger_total,
    memory_repositories,
    payee,
    plan_version,
    published,
)
from fastapi import FastAPI

from calc_engine.api import deals, ledger
from calc_engine.service_layer.queries import current_exceptions, held_deals, ledger_entries
from calc_engine.service_layer.reconcile import recompute
from calc_engine.settings import CalcSettings
from provisio_common.auth import Principal, Role, TokenVerifier, mint_token
from provisio_common.deps import unit_of_work
from provisio_common.problems import install_problem_handlers
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.fakes import FakeStore
from provisio_common.uow import UnitOfWork

ADA = Principal("ada", "admin")


@pytest.fixture
async def store() -> CalcStore:
    """ann and bob on the plan; D1 (ann), D2 (bob), D3 (ann, Q2) posted; D4 has a bad split."""
    store: CalcStore = FakeStore(memory_repositories())
    await consume(store, plan_version(), payee("ann"), payee("bob"))
    await consume(
        store,
        deal("D1", amount="1000.00"),
        deal("D2", amount="2000.00", owner="bob"),
        deal("D3", amount="500.00", close=f"{YEAR}-05-02"),
        deal("D4", splits=[("ann", "0.5"), ("bob", "0.6")]),
    )
    return store


# ---------------------------------------------------------------------------- use cases


async def test_recompute_on_a_consistent_ledger_posts_nothing(store: CalcStore) -> None:
    before = (ledger_rows(store), store.published())

    assert await recompute(fake_uow(store), ADA) == 0

    assert (ledger_rows(store), store.published()) == before
    [audit] = store.audits  # who checked the ledger, even when nothing was posted
    assert (audit.actor, audit.action, audit.entity, audit.after["posted"]) == (
        "ada",
        "ledger.recompute",
        "ledger",
        0,
    )


async def test_recompute_posts_and_commits_what_a_drifted_ledger_lacks(store: CalcStore) -> None:
    drift(store, f"{YEAR}-Q3", f"{YEAR}-08-01", "5", payee_id="bob")

    assert await recompute(fake_uow(store), ADA) == 1
    assert [(a.action, a.after["posted"]) for a in store.audits] == [("ledger.recompute", 1)]
    assert store.audits[0].after["cause_event"] == ledger_rows(store)[-1].cause_event

    correction = ledger_rows(store)[-1]
    assert (correction.payee, correction.period, correction.amount) == ("bob", f"{YEAR}-Q3", Decimal("-5"))
    assert correction.cause_event.startswith("recompute:")
    assert published(store, "ledger.entry")[-1].data["entry_id"] == correction.entry_id
    assert ledger_total(store, payee="bob") == Decimal("200")


async def test_ledger_entries_are_oldest_first_and_filter_by_payee_and_deal(store: CalcStore) -> None:
    uow = fake_uow(store)
    assert [e.deal for e in await ledger_entries(uow)] == ["generic:D1", "generic:D3", "generic:D2"]
    assert [e.deal for e in await ledger_entries(uow, payee="ann")] == ["generic:D1", "generic:D3"]
    assert [e.payee for e in await ledger_entries(uow, deal="generic:D2")] == ["bob"]
    assert [e.deal for e in await ledger_entries(uow, payee="", deal="", limit=1)] == ["generic:D1"]


async def test_current_exceptions_are_what_the_last_runs_found(store: CalcStore) -> None:
    [exc] = await current_exceptions(fake_uow(store))
    assert (exc.plan, exc.kind, exc.deal) == ("ae", "bad_split", "generic:D4")


async def test_held_deals_list_revision_and_status_by_deal(store: CalcStore) -> None:
    await consume(store, deal("D1", revision=3, status="lost"))
    held = [(d.deal, d.revision, d.status) for d in await held_deals(fake_uow(store))]
    assert held == [
        ("generic:D1", 3, "lost"),
        ("generic:D2", 1, "won"),
        ("generic:D3", 1, "won"),
        ("generic:D4", 1, "won"),
    ]


# ---------------------------------------------------------------------------- routes

SETTINGS = ProvisioSettings(environment="test")


@pytest.fixture
async def client(store: CalcStore) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = TokenVerifier(SETTINGS)
    app.include_router(ledger.router)
    app.include_router(deals.router)

    def uow() -> UnitOfWork[Any]:
        return fake_uow(store)

    app.dependency_overrides[unit_of_work] = uow
    app.dependency_overrides[ledger.calc_settings] = lambda: CalcSettings(environment="test")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://calc") as client:
        yield client


def auth(role: Role) -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token(SETTINGS, f'{role}-1', role)}"}


async def test_get_ledger_answers_the_entries_as_before(client: httpx.AsyncClient, store: CalcStore) -> None:
    response = await client.get("/ledger?payee=bob", headers=auth("ops"))

    assert response.status_code == 200
    [body] = response.json()
    [entry] = [row for row in ledger_rows(store) if row.payee == "bob"]
    assert body == {
        "entry_id": entry.entry_id,
        "payee": "bob",
        "plan": "ae",
        "plan_version": 1,
        "component": "new-business",
        "period": f"{YEAR}-Q1",
        "entry_date": f"{YEAR}-02-10",
        "pay_period": f"{YEAR}-02",
        "amount": str(entry.amount),
        "currency": "USD",
        "cash": True,
        "deal": "generic:D2",
        "cause_event": entry.cause_event,
        "explanation": entry.explanation,
        "posted_at": entry.posted_at.isoformat(),
    }


async def test_get_exceptions_and_deals_answer_as_before(client: httpx.AsyncClient) -> None:
    exceptions = (await client.get("/exceptions", headers=auth("admin"))).json()
    assert [{k: e[k] for k in ("plan", "kind", "payee", "deal")} for e in exceptions] == [
        {"plan": "ae", "kind": "bad_split", "payee": "ann", "deal": "generic:D4"}
    ]
    assert set(exceptions[0]) == {"plan", "kind", "payee", "deal", "detail"}
    held = (await client.get("/deals", headers=auth("ops"))).json()
    assert held[0] == {"deal": "generic:D1", "revision": 1, "status": "won"}


async def test_post_recompute_answers_what_it_posted(client: httpx.AsyncClient) -> None:
    response = await client.post("/recompute", headers=auth("admin"))
    assert response.status_code == 200
    assert response.json() == {
        "posted": 0,
        "inputs": {
            "checked": False,
            "reason": "PROVISIO_DEAL_INGEST_URL and PROVISIO_QUOTA_SERVICE_URL are not set",
            "differences": {},
            "asked_again": False,
            "healed": True,
        },
    }


async def test_only_admins_recompute_and_only_admin_or_ops_read(client: httpx.AsyncClient) -> None:
    assert (await client.post("/recompute", headers=auth("ops"))).status_code == 403
    assert (await client.get("/ledger", headers=auth("rep"))).status_code == 403
    assert (await client.get("/deals")).status_code == 401
    bad_limit = await client.get("/ledger?limit=0", headers=auth("admin"))
    assert bad_limit.status_code == 422
    assert bad_limit.json()["errors"][0]["field"] == "limit"
