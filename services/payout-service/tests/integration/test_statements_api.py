"""payout-service over real HTTP, Postgres and the broker: ledger entries and payees arrive
through the real consumer (published as calc-engine and quota-service would), statements
show them, access is checked, and a payload that does not validate ends in the DLQ."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from payout_fakes import ledger_record, payee_record

from payout_service.bootstrap import MIGRATIONS, build_app
from payout_service.settings import PayoutSettings
from provisio_common.auth import Role, mint_token
from provisio_common.events import Envelope, Schema
from provisio_common.kafka import make_producer
from provisio_common.migrations import upgrade
from provisio_common.routes import outgoing
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, eventually, serve


@dataclass
class Payout:
    url: str
    settings: PayoutSettings
    producer: AIOKafkaProducer

    def auth(self, role: Role, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, sub, role)}"}

    async def publish(self, record: Schema) -> None:
        """Send a record the way its producing service's outbox relay does."""
        out = outgoing(record, "calc-engine")
        await self.producer.send_and_wait(out.topic, out.envelope.to_bytes(), key=out.key.encode())


@pytest.fixture
async def payout(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Payout]:
    settings = PayoutSettings(**{**base_settings.model_dump(), "database": await fresh_db("payout")})
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    producer = make_producer(settings)
    async with serve(build_app(settings)) as url:
        await producer.start()
        try:
            yield Payout(url, settings, producer)
        finally:
            await producer.stop()


def body(value: Any) -> str:
    """The exact bytes the API answers with (key order included)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


OPEN = {
    "adjustments": "0",
    "draw_topup": "0",
    "recovered": "0",
    "draw_balance": "0",
    "carried_in": "0.00",
    "carried_out": "0.00",
    "paid": "0.00",
    "status": "open",
}
FEBRUARY = {
    "pay_period": "2027-02",
    "currency": "USD",
    "earned": "125.005",
    "non_cash": "40",
    "payable": "125.01",
    "entries": 3,
    **OPEN,
}
MARCH = {
    "pay_period": "2027-03",
    "currency": "USD",
    "earned": "10",
    "non_cash": "0",
    "payable": "10.00",
    "entries": 1,
    **OPEN,
}


async def test_statements_show_consumed_entries_once_and_only_to_who_may_see_them(payout: Payout) -> None:
    for record in (payee_record("mgr"), payee_record("ann", "mgr"), payee_record("bob")):
        await payout.publish(record)
    first = ledger_record("e1", amount="100.005", explanation={"rate": "0.10", "value": "1000.05"})
    await payout.publish(first)
    await payout.publish(ledger_record("e2", amount="25", entry_date="2027-02-20", deal="generic:D-2"))
    await payout.publish(ledger_record("e3", amount="40", component="spiff", cash=False, deal=None))
    await payout.publish(first)  # calc-engine re-published its outbox: a new envelope, the same entry
    await payout.publish(ledger_record("e4", amount="10", pay_period="2027-03", entry_date="2027-03-02"))
    ann = payout.auth("rep", "ann")
    async with httpx.AsyncClient(base_url=payout.url, timeout=10) as client:

        async def march_arrived() -> bool:
            r = await client.get("/statements/ann", headers=ann)
            return r.status_code == 200 and len(r.json()["pay_periods"]) == 2

        await eventually(march_arrived)
        listed = await client.get("/statements/ann", headers=ann)
        assert listed.status_code == 200
        assert listed.text == body({"payee": "ann", "pay_periods": [FEBRUARY, MARCH]})

        detail = await client.get("/statements/ann/2027-02", headers=ann)
        assert detail.status_code == 200
        entry = {"date": "2027-02-10", "deal": "generic:D-1"}
        assert detail.text == body(
            {
                "payee": "ann",
                "pay_period": "2027-02",
                "totals": [FEBRUARY],
                "lines": [
                    {
                        "plan": "flat",
                        "component": "commission",
                        "period": "2027-02",
                        "currency": "USD",
                        "amount": "125.005",
                        "cash": True,
                        "entries": [
                            {
                                "entry_id": "e1",
                                **entry,
                                "amount": "100.005",
                                "explanation": {"rate": "0.10", "value": "1000.05"},
                            },
                            {
                                "entry_id": "e2",
                                "date": "2027-02-20",
                                "deal": "generic:D-2",
                                "amount": "25",
                                "explanation": {"rate": "0.10", "value": "1250"},
                            },
                        ],
                        "original_pay_period": None,
                    },
                    {
                        "plan": "flat",
                        "component": "spiff",
                        "period": "2027-02",
                        "currency": "USD",
                        "amount": "40",
                        "cash": False,
                        "entries": [
                            {
                                "entry_id": "e3",
                                "date": "2027-02-10",
                                "deal": None,
                                "amount": "40",
                                "explanation": {"rate": "0.10", "value": "1250"},
                            }
                        ],
                        "original_pay_period": None,
                    },
                ],
                "approved_adjustments": [],
            }
        )

        async def manager_sees_ann() -> bool:
            r = await client.get("/statements/ann", headers=payout.auth("manager", "mgr"))
            return r.status_code == 200

        await eventually(manager_sees_ann)  # payees.v1 reached the hierarchy replica

        anonymous = await client.get("/statements/ann")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        refusals: list[tuple[Role, str, str]] = [
            ("rep", "bob", "/statements/ann"),
            ("rep", "bob", "/statements/ann/2027-02"),
            ("manager", "ann", "/statements/mgr"),
            ("manager", "bob", "/statements/ann/2027-02"),
            ("rep", "bob", "/statements/ann/2099-01"),  # access is checked before existence
        ]
        for role, sub, path in refusals:
            refused = await client.get(path, headers=payout.auth(role, sub))
            assert refused.status_code == 403, (role, sub, path)
            assert refused.headers["content-type"].startswith("application/problem+json")
        readers: tuple[Role, ...] = ("admin", "ops")
        for reader in readers:
            seen = await client.get("/statements/ann/2027-02", headers=payout.auth(reader, "someone"))
            assert seen.status_code == 200 and seen.text == detail.text
        payroll = await client.get("/statements/ann/2027-02", headers=payout.auth("payroll", "acme"))
        assert payroll.status_code == 403  # payroll reads batches, not statements

        missing = await client.get("/statements/ann/2099-01", headers=ann)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.json() == {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "no statement for 'ann' in '2099-01'",
            "instance": "/statements/ann/2099-01",
        }
        nothing_yet = await client.get("/statements/bob", headers=payout.auth("rep", "bob"))
        assert nothing_yet.status_code == 200 and nothing_yet.text == body(
            {"payee": "bob", "pay_periods": []}
        )


async def test_an_entry_that_does_not_validate_is_dead_lettered_and_can_be_replayed(payout: Payout) -> None:
    data = ledger_record("bad-1").to_data()
    data["amount"] = 125.0  # a JSON number: amounts are decimal strings
    bad = Envelope(type="ledger.entry", source="calc-engine", subject="ann", data=data).to_bytes()
    await payout.producer.send_and_wait("ledger.v1", bad, key=b"ann")
    await payout.publish(ledger_record("good-1"))  # the partition moves on past it
    admin, ops = payout.auth("admin", "ada"), payout.auth("ops", "otto")
    async with httpx.AsyncClient(base_url=payout.url, timeout=10) as client:

        async def letters(status: str = "all") -> list[dict[str, Any]]:
            r = await client.get("/dlq", params={"status": status}, headers=ops)
            assert r.status_code == 200, r.text
            found: list[dict[str, Any]] = r.json()
            return found

        async def good_one_applied() -> bool:
            r = await client.get("/statements/ann", headers=admin)
            return r.status_code == 200 and [p["entries"] for p in r.json()["pay_periods"]] == [1]

        await eventually(good_one_applied)
        [letter] = await letters()
        assert (letter["topic"], letter["consumer"], letter["key"], letter["event_id"]) == (
            "ledger.v1",
            "payout-service",
            "ann",
            None,
        )
        # The error names the schema and the field; its type is libs/common's (unreadable payload).
        assert letter["error_type"] and "LedgerEntryRecord" in letter["error"] and "amount" in letter["error"]
        assert letter["payload"] == bad.decode() and letter["replays"] == 0 and letter["replayed_at"] is None
        assert (await client.get("/dlq", headers=payout.auth("rep", "ann"))).status_code == 403

        assert (await client.post(f"/dlq/{letter['id']}/replay", headers=ops)).status_code == 403
        assert (await client.post("/dlq/999999/replay", headers=admin)).status_code == 404
        replayed = await client.post(f"/dlq/{letter['id']}/replay", headers=admin)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["id"] == letter["id"] and replayed.json()["replays"] == 1
        assert replayed.json()["replayed_at"] is not None
        assert [d["id"] for d in await letters("replayed")] == [letter["id"]]

        async def dead_lettered_again() -> bool:
            # The replay went back to ledger.v1 through the outbox; it still does not validate.
            return len(await letters("pending")) == 1

        await eventually(dead_lettered_again)
        [again] = await letters("pending")
        assert again["id"] != letter["id"] and again["payload"] == letter["payload"]
        assert again["offset"] > letter["offset"]
