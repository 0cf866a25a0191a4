"""`POST /estimate`, `POST /simulate` and `GET /explain/{payee}/{period}` over real HTTP, with
calc-engine's replicas fed through the broker and held in Postgres; one app for the module,
RBAC cases for every role.

The company (sent once on plans.v1, payees.v1, quotas.v1, deals.v1): boss manages ann
(hubspot:1) and bob; cy stands alone. Plan ae: retroactive tiers on amount (5% below 100% of
the quarter's quota, 10% from 100%). Every Q1 quota is 10000; ann won d1 (6000 USD) and has
d2 (3000) open; bob won d3 (2000) and cy d4 (1000).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from calc_fakes import YEAR

from calc_engine.bootstrap import MIGRATIONS, build_app
from calc_engine.settings import CalcSettings
from provisio_calc import load_plan
from provisio_common.auth import Role, mint_token
from provisio_common.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from provisio_common.events import DealSnapshot, PayeeRecord, PlanAssignment, PlanVersion, QuotaRecord, Schema
from provisio_common.kafka import make_producer
from provisio_common.migrations import upgrade
from provisio_common.routes import outgoing
from provisio_common.testing.plugin import CreateDb, eventually, serve

PLAN = f"""
id: ae
currency: USD
period: quarter
effective: {{from: {YEAR}-01-01, to: {YEAR}-12-31}}
components:
  - id: new-business
    kind: commission
    measure: {{metric: amount}}
    tiers:
      basis: attainment
      method: retroactive
      bands: [{{to: 100, rate: "0.05"}}, {{rate: "0.10"}}]
"""
Who = tuple[str, Role]
ANN: Who = ("ann", "rep")
BOB: Who = ("bob", "rep")
BOSS: Who = ("boss", "manager")
CY_MANAGER: Who = ("cy", "manager")
ADMIN: Who = ("ada", "admin")
OPS: Who = ("o", "ops")
PAYROLL: Who = ("p", "payroll")


def deal(n: int, owner: str, amount: str, status: str = "won") -> DealSnapshot:
    return DealSnapshot.model_validate(
        {
            "source": "hubspot",
            "external_id": f"d{n}",
            "revision": 1,
            "status": status,
            "amount": amount,
            "currency": "USD",
            "close_date": f"{YEAR}-02-10",
            "changed_at": f"{YEAR}-02-10T12:00:00Z",
            "owner": owner,
        }
    )


def payee(payee_id: str, manager: str | None = None, roles: tuple[str, ...] = ("rep",)) -> PayeeRecord:
    return PayeeRecord(
        id=payee_id,
        name=payee_id.title(),
        manager=manager,
        roles=list(roles),
        crm_ids=["hubspot:1"] if payee_id == "ann" else [],
        assignments=[PlanAssignment(plan="ae")],
    )


async def produce(settings: CalcSettings, *records: Schema) -> None:
    """Send records to their topics as their producers would."""
    producer = make_producer(settings)
    await producer.start()
    try:
        for record in records:
            out = outgoing(record, "test")
            await producer.send_and_wait(out.topic, out.envelope.to_bytes(), key=out.key.encode())
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One broker for the module."""
    server = EmbeddedBroker(port=free_port(), log_file=Path(tmp_path_factory.mktemp("tansu")) / "tansu.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Client:
    """httpx on the running calc-engine, a token per call."""

    def __init__(self, settings: CalcSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    def headers(self, who: Who) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, who[0], who[1])}"}

    async def get(self, url: str, who: Who = ADMIN) -> httpx.Response:
        return await self.http.get(url, headers=self.headers(who))

    async def post(self, url: str, body: dict[str, Any], who: Who = ADMIN) -> httpx.Response:
        return await self.http.post(url, json=body, headers=self.headers(who))


@pytest.fixture(scope="module")
async def calc(
    module_db: CreateDb, embedded_pg: EmbeddedPostgres, module_broker: EmbeddedBroker
) -> AsyncIterator[Client]:
    """calc-engine on a migrated database, its replicas fed through the broker."""
    settings = CalcSettings(
        environment="test",
        pg_port=embedded_pg.port,
        kafka_bootstrap=module_broker.bootstrap,
        kafka_session_timeout_ms=3000,
        kafka_heartbeat_interval_ms=300,
        outbox_poll_interval_s=0.1,
        consumer_retry_backoff_s=0.01,
        log_json=False,
        database=await module_db("calc"),
    )
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    async with contextlib.AsyncExitStack() as exits:
        url = await exits.enter_async_context(serve(build_app(settings)))
        http = await exits.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
        client = Client(settings, http)
        document = load_plan(PLAN).document()
        await produce(
            settings,
            PlanVersion(plan_id="ae", version=1, document=document, created_at=datetime.now(UTC)),
            payee("boss", roles=("manager",)),
            payee("ann", "boss"),
            payee("bob", "boss"),
            payee("cy"),
            *(
                QuotaRecord.model_validate({"payee": p, "period": f"{YEAR}-Q1", "amount": "10000"})
                for p in ("ann", "bob", "cy")
            ),
        )
        await produce(
            settings,
            deal(1, "hubspot:1", "6000"),
            deal(2, "hubspot:1", "3000", status="open"),
            deal(3, "bob", "2000"),
            deal(4, "cy", "1000"),
        )

        async def posted() -> bool:
            entries = (await client.get("/ledger")).json()
            return {e["deal"] for e in entries} == {"hubspot:d1", "hubspot:d3", "hubspot:d4"}

        await eventually(posted)
        yield client


async def ledger_size(calc: Client) -> int:
    return len((await calc.get("/ledger")).json())


HYPOTHETICAL = {"amount": "5000", "currency": "USD", "close_date": f"{YEAR}-02-20"}


async def test_estimate_answers_the_delta_attainment_and_bands_and_writes_nothing(calc: Client) -> None:
    before = await ledger_size(calc)

    response = await calc.post("/estimate", {"deal": HYPOTHETICAL}, ANN)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["payee"], body["deal"]) == ("ann", "estimate:hypothetical")
    [plan] = body["plans"]
    assert (plan["plan"], plan["plan_version"], plan["currency"], plan["delta"]) == ("ae", 1, "USD", "800")
    [line] = plan["lines"]
    assert {k: line[k] for k in ("component", "period", "attainment_before", "attainment_after")} == {
        "component": "new-business",
        "period": f"{YEAR}-Q1",
        "attainment_before": "60",
        "attainment_after": "110",
    }
    assert (line["earned_before"], line["earned_after"], line["delta"]) == ("300", "1100", "800")
    assert line["bands_crossed"] == [
        {
            "band": 1,
            "basis": "attainment",
            "from": "100",
            "to": None,
            "rate": "0.1",
            "multiplier": None,
            "direction": "up",
        }
    ]
    change = await calc.post(
        "/estimate", {"change": {"deal": "hubspot:d2", "fields": {"amount": "4000"}}}, ANN
    )
    assert (change.status_code, change.json()["plans"][0]["delta"]) == (200, "700")
    assert await ledger_size(calc) == before


async def test_estimate_rbac_and_bad_bodies(calc: Client) -> None:
    cases: list[tuple[Who, str | None, int]] = [
        (ANN, None, 200),
        (ANN, "bob", 403),
        (BOSS, "ann", 200),
        (BOSS, "cy", 403),
        (CY_MANAGER, "bob", 403),
        (ADMIN, "cy", 200),
        (ADMIN, "nobody", 404),
        (OPS, "ann", 403),
        (PAYROLL, "ann", 403),
    ]
    for who, payee_id, status in cases:
        body: dict[str, Any] = (
            {"deal": HYPOTHETICAL} if payee_id is None else {"payee": payee_id, "deal": HYPOTHETICAL}
        )
        assert (await calc.post("/estimate", body, who)).status_code == status, (who, payee_id)
    assert (await calc.http.post("/estimate", json={"deal": HYPOTHETICAL})).status_code == 401
    both = await calc.post(
        "/estimate", {"deal": HYPOTHETICAL, "change": {"deal": "hubspot:d2", "fields": {}}}, ANN
    )
    assert both.status_code == 422 and both.headers["content-type"] == "application/problem+json"
    floated = await calc.post("/estimate", {"deal": {**HYPOTHETICAL, "amount": 5000.5}}, ANN)
    assert [e["field"] for e in floated.json()["errors"]] == ["deal.amount"]
    won = await calc.post("/estimate", {"change": {"deal": "hubspot:d1", "fields": {}}}, ANN)
    assert won.status_code == 409
    theirs = await calc.post("/estimate", {"change": {"deal": "hubspot:d3", "fields": {}}}, ANN)
    assert theirs.status_code == 404


async def test_simulate_compares_a_draft_with_the_current_version_for_admins_only(calc: Client) -> None:
    draft = PLAN.replace('"0.05"', '"0.07"')
    body = {"plan": draft, "from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"}
    before = await ledger_size(calc)

    response = await calc.post("/simulate", body)

    assert response.status_code == 200, response.text
    found = response.json()
    assert (found["plan"], found["current_version"], found["from"], found["to"]) == (
        "ae",
        1,
        f"{YEAR}-01-01",
        f"{YEAR}-12-31",
    )
    assert found["rows"] == [
        {"payee": "ann", "component": "new-business", "current": "300", "draft": "420", "difference": "120"},
        {"payee": "bob", "component": "new-business", "current": "100", "draft": "140", "difference": "40"},
        {"payee": "cy", "component": "new-business", "current": "50", "draft": "70", "difference": "20"},
    ]
    assert found["totals"] == {"current": "450", "draft": "630", "difference": "180"}
    # A JSON object draft keeps its numbers exact (read from their text, never as floats).
    as_object = {**body, "plan": {**load_plan(draft).document(), "components": [_flat(0.07)]}}
    exact = await calc.http.post(
        "/simulate",
        content=_json_with_numbers(as_object),
        headers={**calc.headers(ADMIN), "content-type": "application/json"},
    )
    assert exact.status_code == 200, exact.text
    assert exact.json()["totals"]["draft"] == "630"
    assert [(await calc.post("/simulate", body, who)).status_code for who in (BOSS, ANN, OPS, PAYROLL)] == [
        403,
        403,
        403,
        403,
    ]
    bad = await calc.post("/simulate", {**body, "plan": draft.replace('"0.07"', '"seven"')})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["plan.components[0].tiers.bands[0].rate"]
    backwards = await calc.post("/simulate", {**body, "from": f"{YEAR}-12-31", "to": f"{YEAR}-01-01"})
    assert backwards.status_code == 422
    assert await ledger_size(calc) == before


def _flat(rate: float) -> dict[str, Any]:
    return {"id": "new-business", "kind": "commission", "measure": {"metric": "amount"}, "rate": rate}


def _json_with_numbers(body: dict[str, Any]) -> bytes:
    """JSON with the rate as a bare number (`0.07`), as a hand-written request would send it."""
    return json.dumps(body).encode()


async def test_explain_shows_each_line_with_its_arithmetic_to_whoever_may_see_it(calc: Client) -> None:
    response = await calc.get(f"/explain/ann/{YEAR}-Q1", ANN)

    assert response.status_code == 200, response.text
    body = response.json()
    [line] = body["lines"]
    assert {
        k: line[k] for k in ("plan", "payee", "component", "period", "value", "attainment", "earned")
    } == {
        "plan": "ae",
        "payee": "ann",
        "component": "new-business",
        "period": f"{YEAR}-Q1",
        "value": "6000",
        "attainment": "60",
        "earned": "300",
    }
    assert [c["deal"] for c in line["explanation"]["credits"]] == ["hubspot:d1"]
    assert line["arithmetic"][:3] == [
        "formula: all of value at the rate of the band it reaches",
        "quota: 10000",
        "band 0 [0, 100): rate 0.05 * 6000 = 300",
    ]
    assert body["exceptions"] == []
    cases: list[tuple[Who, str, int]] = [
        (ANN, "bob", 403),
        (BOB, "bob", 200),
        (BOSS, "ann", 200),
        (BOSS, "cy", 403),
        (CY_MANAGER, "ann", 403),
        (OPS, "cy", 200),
        (PAYROLL, "bob", 200),
        (ADMIN, "nobody", 404),
    ]
    for who, payee_id, status in cases:
        assert (await calc.get(f"/explain/{payee_id}/{YEAR}-Q1", who)).status_code == status, (who, payee_id)
    assert (await calc.http.get(f"/explain/ann/{YEAR}-Q1")).status_code == 401
    bad = await calc.get(f"/explain/ann/{YEAR}-Q9", ANN)
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "period")
