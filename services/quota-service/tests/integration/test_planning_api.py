"""quota-service over real HTTP and Postgres: plans, payees, quotas, and their events."""

from __future__ import annotations

from collections.abc import Awaitable

import httpx
from quota_http import Quota
from quota_http import count_rows as rows
from quota_http import read_topic as topic

from provisio_common.embedded import EmbeddedBroker
from provisio_common.testing.plugin import eventually

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


async def test_put_plan_versions_and_publishes_each_version(quota: Quota) -> None:
    async with httpx.AsyncClient() as client:

        def put(text: str) -> Awaitable[httpx.Response]:
            headers = {**quota.headers(), "content-type": "application/yaml"}
            return client.put(f"{quota.url}/plans/ae", content=text, headers=headers)

        first = await put(PLAN)
        assert first.status_code == 201 and first.json()["version"] == 1
        same = await put(PLAN)
        assert same.status_code == 200 and same.json()["version"] == 1
        second = await put(PLAN.replace("rate: 0.10", "rate: 0.12"))
        assert second.status_code == 201 and second.json()["version"] == 2
        assert second.json()["document"]["components"][0]["rate"] == "0.12"
        old = await client.get(f"{quota.url}/plans/ae?version=1", headers=quota.headers("ops", "o"))
        assert old.json()["document"]["components"][0]["rate"] == "0.10"
    events = await topic(quota.settings, "plans.v1", 2)
    assert [e["data"]["version"] for e in events] == [1, 2]
    assert await rows(quota, "SELECT count(*) FROM audit_log WHERE action = 'plan.put'") == 2


async def test_bad_plan_is_refused_with_every_problem_and_nothing_stored(quota: Quota) -> None:
    bad = PLAN.replace("currency: USD\n", "").replace("rate: 0.10", "rate: ten")
    async with httpx.AsyncClient() as client:
        r = await client.put(
            f"{quota.url}/plans/ae",
            content=bad,
            headers={**quota.headers(), "content-type": "application/yaml"},
        )
        assert r.status_code == 422
        fields = {e["field"] for e in r.json()["errors"]}
        assert {"currency", "components[0].rate"} <= fields
        wrong_id = await client.put(
            f"{quota.url}/plans/other",
            content=PLAN,
            headers={**quota.headers(), "content-type": "application/yaml"},
        )
        assert wrong_id.status_code == 422 and wrong_id.json()["errors"][0]["field"] == "id"
        rep = await client.put(f"{quota.url}/plans/ae", content=PLAN, headers=quota.headers("rep", "r"))
        assert rep.status_code == 403
    assert await rows(quota, "SELECT count(*) FROM plan_versions") == 0
    assert await rows(quota, "SELECT count(*) FROM outbox") == 0


async def test_payees_hierarchy_refuses_unknown_managers_loops_and_shared_crm_ids(quota: Quota) -> None:
    async with httpx.AsyncClient() as client:

        def put(pid: str, body: dict[str, object]) -> Awaitable[httpx.Response]:
            return client.put(f"{quota.url}/payees/{pid}", json=body, headers=quota.headers())

        assert (await put("boss", {"name": "Boss", "roles": ["manager"]})).status_code == 201
        assert (
            await put("ann", {"name": "Ann", "manager": "boss", "crm_ids": ["hubspot:1"]})
        ).status_code == 201
        unknown = await put("bob", {"name": "Bob", "manager": "nobody"})
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "manager"
        loop = await put("boss", {"name": "Boss", "roles": ["manager"], "manager": "ann"})
        assert loop.status_code == 422
        taken = await put("bob", {"name": "Bob", "crm_ids": ["hubspot:1"]})
        assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "crm_ids"
        bad_ref = await put("bob", {"name": "Bob", "crm_ids": ["123"]})
        assert bad_ref.status_code == 422 and bad_ref.json()["errors"][0]["field"] == "crm_ids"
    events = await topic(quota.settings, "payees.v1", 2)
    assert [e["data"]["id"] for e in events] == ["boss", "ann"]


async def test_quota_needs_a_known_payee_a_period_and_a_decimal_string(quota: Quota) -> None:
    async with httpx.AsyncClient() as client:
        await client.put(f"{quota.url}/payees/ann", json={"name": "Ann"}, headers=quota.headers())
        ok = await client.put(
            f"{quota.url}/quotas/ann/2027-Q1", json={"amount": "150000"}, headers=quota.headers()
        )
        assert ok.status_code == 201 and ok.json()["amount"] == "150000"
        floaty = await client.put(
            f"{quota.url}/quotas/ann/2027-Q1", json={"amount": 150000.5}, headers=quota.headers()
        )
        assert floaty.status_code == 422 and floaty.json()["errors"][0]["field"] == "amount"
        period = await client.put(
            f"{quota.url}/quotas/ann/2027-Q5", json={"amount": "1"}, headers=quota.headers()
        )
        assert period.status_code == 422 and period.json()["errors"][0]["field"] == "period"
        nobody = await client.put(
            f"{quota.url}/quotas/zed/2027", json={"amount": "1"}, headers=quota.headers()
        )
        assert nobody.status_code == 422 and nobody.json()["errors"][0]["field"] == "payee"
    assert await rows(quota, "SELECT count(*) FROM quotas") == 1


async def test_health_readiness_and_metrics(quota: Quota, broker: EmbeddedBroker) -> None:
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{quota.url}/healthz")).json() == {"status": "ok"}
        ready = await client.get(f"{quota.url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
        await client.get(f"{quota.url}/payees", headers=quota.headers())
        assert (await client.get(f"{quota.url}/dlq", headers=quota.headers("ops", "o"))).json() == []
        assert (await client.get(f"{quota.url}/dlq", headers=quota.headers("rep", "r"))).status_code == 403
        metrics = (await client.get(f"{quota.url}/metrics")).text
        assert 'provisio_http_requests_total{method="GET",route="/payees"' in metrics
        assert "provisio_outbox_backlog_rows" in metrics
        assert (await client.get(f"{quota.url}/docs")).status_code == 200
        broker.stop()
        not_ready = await client.get(f"{quota.url}/readyz", timeout=10)
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["broker"] != "ok"
        # The broker back: ready again. (It also lets the app stop cleanly: with the broker
        # gone, aiokafka's consumer stop raises CancelledError, which ServiceRuntime.stop does
        # not suppress, so the producer would be left unclosed.)
        broker.start()

        async def ready_again() -> bool:
            return (await client.get(f"{quota.url}/readyz", timeout=10)).status_code == 200

        await eventually(ready_again)


async def test_fx_rate_needs_iso_codes_and_a_positive_decimal_and_is_published(quota: Quota) -> None:
    async with httpx.AsyncClient() as client:
        url = f"{quota.url}/fx-rates/2027-01-01"
        bad = await client.put(f"{url}/EURO/USD", json={"rate": "1.1"}, headers=quota.headers())
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "source"
        same = await client.put(f"{url}/USD/USD", json={"rate": "1"}, headers=quota.headers())
        assert same.status_code == 422 and same.json()["errors"][0]["field"] == "target"
        negative = await client.put(f"{url}/EUR/USD", json={"rate": "-1"}, headers=quota.headers())
        assert negative.status_code == 422 and negative.json()["errors"][0]["field"] == "rate"
        floaty = await client.put(f"{url}/EUR/USD", json={"rate": 1.1}, headers=quota.headers())
        assert floaty.status_code == 422 and floaty.json()["errors"][0]["field"] == "rate"
        ok = await client.put(f"{url}/EUR/USD", json={"rate": "1.0825"}, headers=quota.headers())
        assert ok.status_code == 201 and ok.json() == {
            "day": "2027-01-01",
            "from": "EUR",
            "to": "USD",
            "rate": "1.0825",
        }
    assert await rows(quota, "SELECT count(*) FROM fx_rates") == 1
    [event] = await topic(quota.settings, "fxrates.v1", 1)
    assert event["data"] == {
        "day": "2027-01-01",
        "from_currency": "EUR",
        "to_currency": "USD",
        "rate": "1.0825",
    }
