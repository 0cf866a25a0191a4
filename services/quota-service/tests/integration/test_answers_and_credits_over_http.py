"""quota-service over real HTTP, Postgres and the broker, one app for the module:
a 2xx means committed, and credits from `credits.v1` reach attainment (or the DLQ)."""

from __future__ import annotations

import json

import httpx
from quota_http import Quota

from provisio_common.events import CreditRecord
from provisio_common.kafka import make_producer
from provisio_common.routes import outgoing
from provisio_common.testing.plugin import eventually


async def test_every_answered_write_is_visible_to_the_next_request(app: Quota) -> None:
    async with httpx.AsyncClient(base_url=app.url, headers=app.headers()) as client:
        for i in range(50):
            payee_id = f"rep-{i}"
            put = await client.put(
                f"/payees/{payee_id}", json={"name": f"Rep {i}", "crm_ids": [f"hubspot:{i}"]}
            )
            assert put.status_code == 201, put.text
            got = await client.get(f"/payees/{payee_id}")
            assert got.status_code == 200 and got.json() == put.json(), (i, got.text)
            # The quota's payee check reads the payee the previous answer said exists.
            quota = await client.put(f"/quotas/{payee_id}/2027-Q1", json={"amount": f"{1000 + i}"})
            assert quota.status_code == 201, (i, quota.text)
            got_quota = await client.get(f"/quotas/{payee_id}/2027-Q1")
            assert got_quota.json() == {"payee": payee_id, "period": "2027-Q1", "amount": f"{1000 + i}"}


async def test_credits_from_the_broker_count_toward_attainment_and_bad_ones_go_to_the_dlq(app: Quota) -> None:
    def credit(deal: str, revision: int, amount: str) -> CreditRecord:
        return CreditRecord.model_validate(
            {
                "deal": deal,
                "revision": revision,
                "payee": "ann",
                "share": "1",
                "amount": amount,
                "currency": "USD",
                "status": "won",
                "close_date": "2027-02-10",
            }
        )

    producer = make_producer(app.settings)
    await producer.start()
    try:
        for record in (
            credit("hubspot:1", 2, "300"),
            credit("hubspot:1", 1, "100"),
            credit("hubspot:2", 1, "50"),
        ):
            out = outgoing(record, "calc-engine")
            await producer.send_and_wait(out.topic, out.envelope.to_bytes(), key=out.key.encode())
        bad = outgoing(credit("hubspot:3", 1, "1"), "calc-engine").envelope.to_json()
        bad["data"]["amount"] = 1.5  # a JSON number is never an amount
        await producer.send_and_wait("credits.v1", json.dumps(bad).encode(), key=b"ann")
    finally:
        await producer.stop()

    async with httpx.AsyncClient(base_url=app.url, headers=app.headers()) as client:
        assert (await client.put("/payees/ann", json={"name": "Ann"})).status_code == 201
        assert (await client.put("/quotas/ann/2027-Q1", json={"amount": "1000"})).status_code == 201

        async def counted() -> bool:
            r = await client.get("/attainment/ann/2027-Q1", headers=app.headers("rep", "ann"))
            return r.status_code == 200 and r.json()["value"] == "350"

        await eventually(counted)
        seen = await client.get("/attainment/ann/2027-Q1", headers=app.headers("rep", "ann"))
        assert seen.json() == {
            "payee": "ann",
            "period": "2027-Q1",
            "currency": "USD",
            "value": "350",
            "quota": "1000",
            "attainment": "35",
            "missing_fx": [],
            "members": [],
            "members_without_quota": [],
        }

        async def dead_lettered() -> bool:
            return len((await client.get("/dlq")).json()) == 1

        await eventually(dead_lettered)
        [letter] = (await client.get("/dlq")).json()
        assert (letter["topic"], letter["consumer"]) == ("credits.v1", "quota-service")
        assert "amount" in letter["error"]
