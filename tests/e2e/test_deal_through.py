"""One deal all the way through: plan and payees in quota-service, a signed webhook into
deal-ingest, calc-engine's ledger, payout-service's statements. Real HTTP, Kafka, Postgres."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from provisio_common.auth import mint_token
from provisio_common.testing.plugin import eventually
from provisio_common.webhooks import signed_headers

from .conftest import Stack

TODAY = datetime.now(UTC).date()
YEAR = TODAY.year
PAY_PERIOD = f"{TODAY:%Y-%m}"
QUARTER = f"{YEAR}-Q{(TODAY.month - 1) // 3 + 1}"

PLAN_YAML = f"""
id: flat
name: Flat ten percent
currency: USD
period: quarter
pay_frequency: month
effective: {{from: {YEAR}-01-01, to: {YEAR}-12-31}}
components:
  - id: commission
    kind: commission
    measure: {{metric: amount}}
    rate: 0.10
  - id: calls
    kind: commission
    measure: {{metric: "activity:call"}}
    rate: 5
"""


def auth(stack: Stack, role: str, sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(stack.settings, sub, role)}"}  # type: ignore[arg-type]


def deal(status: str, amount: str = "1250.00") -> dict[str, object]:
    return {
        "external_id": "D-1",
        "status": status,
        "amount": amount,
        "currency": "USD",
        "close_date": TODAY.isoformat(),
        "changed_at": datetime.now(UTC).isoformat(),
        "owner": "generic:u-ann",
        "type": "new",
    }


async def send(
    client: httpx.AsyncClient, stack: Stack, msg_id: str, body: dict[str, object]
) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {"content-type": "application/json", **signed_headers(stack.webhook_secret, msg_id, raw)}
    return await client.post(f"{stack.ingest}/webhooks/generic", content=raw, headers=headers)


async def setup_company(client: httpx.AsyncClient, stack: Stack) -> None:
    admin = auth(stack, "admin", "admin-1")
    r = await client.put(
        f"{stack.quota}/plans/flat", content=PLAN_YAML, headers={**admin, "content-type": "application/yaml"}
    )
    assert r.status_code == 201, r.text
    assignment = [{"plan": "flat"}]
    for payee_id, body in [
        ("mgr", {"name": "Mona Manager", "roles": ["manager"], "assignments": assignment}),
        (
            "ann",
            {"name": "Ann Rep", "manager": "mgr", "crm_ids": ["generic:u-ann"], "assignments": assignment},
        ),
        ("bob", {"name": "Bob Rep", "manager": "mgr", "assignments": assignment}),
    ]:
        r = await client.put(f"{stack.quota}/payees/{payee_id}", json=body, headers=admin)
        assert r.status_code == 201, r.text
    r = await client.put(f"{stack.quota}/quotas/ann/{QUARTER}", json={"amount": "10000"}, headers=admin)
    assert r.status_code == 201, r.text


async def test_won_deal_reaches_the_reps_statement_and_cancellation_reverses_it(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await setup_company(client, stack)
        r = await send(client, stack, "msg-1", {"type": "deal.snapshot", "data": deal("won")})
        assert r.status_code == 202, r.text
        assert r.json()["revision"] == 1
        ann = auth(stack, "rep", "ann")

        async def statement_shows(payable: str) -> bool:
            r = await client.get(f"{stack.payout}/statements/ann", headers=ann)
            periods = r.json().get("pay_periods", []) if r.status_code == 200 else []
            return any(p["pay_period"] == PAY_PERIOD and p["payable"] == payable for p in periods)

        await eventually(lambda: statement_shows("125.00"))  # 10% of 1250.00
        detail = (await client.get(f"{stack.payout}/statements/ann/{PAY_PERIOD}", headers=ann)).json()
        [line] = detail["lines"]
        assert (line["plan"], line["component"], line["amount"]) == ("flat", "commission", "125")
        assert line["entries"][0]["deal"] == "generic:D-1"
        why = line["entries"][0]["explanation"]  # the arithmetic travels with the entry
        assert (why["value"], why["earned"], why["plan_version"]) == ("1250", "125", 1)
        assert why["deal_credit"]["deal"] == "generic:D-1" and "credits" not in why

        # credits.v1 reaches quota-service: 1250.00 of a 10000 quota is 12.5% attained.
        async def attained(percent: str | None) -> bool:
            r = await client.get(f"{stack.quota}/attainment/ann/{QUARTER}", headers=ann)
            return r.status_code == 200 and r.json()["attainment"] == percent

        await eventually(lambda: attained("12.5"))

        # The same webhook delivered again is acknowledged and changes nothing.
        again = await send(client, stack, "msg-1", {"type": "deal.snapshot", "data": deal("won")})
        assert again.status_code == 200 and again.json()["outcome"] == "duplicate"

        r = await send(client, stack, "msg-2", {"type": "deal.snapshot", "data": deal("cancelled")})
        assert r.status_code == 202 and r.json()["revision"] == 2
        await eventually(lambda: statement_shows("0.00"))
        await eventually(lambda: attained("0"))
        ledger = (
            await client.get(f"{stack.calc}/ledger?payee=ann", headers=auth(stack, "admin", "admin-1"))
        ).json()
        assert [Decimal(e["amount"]) for e in ledger] == [Decimal("125"), Decimal("-125")]
        recompute = await client.post(f"{stack.calc}/recompute", headers=auth(stack, "admin", "admin-1"))
        assert recompute.json() == {
            "posted": 0,
            "inputs": {
                "checked": True,
                "reason": None,
                "differences": dict.fromkeys(("deal_revisions", "plans", "payees", "quotas", "fx_rates"), 0),
                "asked_again": False,
                "healed": True,
            },
        }


async def test_statements_need_a_token_and_a_rep_sees_only_their_own(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await setup_company(client, stack)
        r = await client.get(f"{stack.payout}/statements/ann")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await client.get(f"{stack.payout}/statements/ann", headers=auth(stack, "rep", "bob"))
        assert r.status_code == 403
        r = await client.get(f"{stack.payout}/statements/ann", headers=auth(stack, "rep", "ann"))
        assert r.status_code == 200

        # a manager sees the subtree once payees.v1 reached payout-service
        async def manager_sees_ann() -> bool:
            r = await client.get(f"{stack.payout}/statements/ann", headers=auth(stack, "manager", "mgr"))
            return r.status_code == 200

        await eventually(manager_sees_ann)
        r = await client.get(f"{stack.payout}/statements/mgr", headers=auth(stack, "manager", "ann"))
        assert r.status_code == 403


async def test_float_amount_or_missing_field_is_422_naming_it_and_nothing_is_stored(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        bad = deal("won")
        bad["amount"] = 1250.0
        r = await send(client, stack, "msg-float", {"type": "deal.snapshot", "data": bad})
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == ["data.amount"]
        missing = deal("won")
        del missing["owner"]
        r = await send(client, stack, "msg-missing", {"type": "deal.snapshot", "data": missing})
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == ["data.owner"]
        admin = auth(stack, "admin", "admin-1")
        r = await client.get(f"{stack.ingest}/deals/generic/D-1", headers=admin)
        assert r.status_code == 404
        # the refused delivery ids were not recorded: a corrected retry is accepted
        r = await send(client, stack, "msg-float", {"type": "deal.snapshot", "data": deal("won")})
        assert r.status_code == 202


async def test_an_activity_earns_for_its_owner_through_activities_v1(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await setup_company(client, stack)
        activity = {
            "external_id": "A-1",
            "kind": "call",
            "owner": "generic:u-ann",
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        r = await send(client, stack, "act-1", {"type": "activity", "data": activity})
        assert r.status_code == 202, r.text
        ann = auth(stack, "rep", "ann")

        async def calls_line() -> bool:
            r = await client.get(f"{stack.payout}/statements/ann/{PAY_PERIOD}", headers=ann)
            lines = r.json().get("lines", []) if r.status_code == 200 else []
            return [(x["component"], x["amount"]) for x in lines] == [("calls", "5")]

        await eventually(calls_line)


async def test_credits_follow_a_payee_who_arrives_after_the_deal(stack: Stack) -> None:
    """The deal names a CRM user nobody has yet; once the payee with that crm_id exists,
    credits.v1 moves the credit to them (and zeroes the unresolved reference)."""
    async with httpx.AsyncClient(timeout=10) as client:
        admin = auth(stack, "admin", "admin-1")
        r = await send(client, stack, "early-1", {"type": "deal.snapshot", "data": deal("won")})
        assert r.status_code == 202, r.text

        async def calc_holds_the_deal() -> bool:
            r = await client.get(f"{stack.calc}/deals", headers=admin)
            return r.status_code == 200 and [d["deal"] for d in r.json()] == ["generic:D-1"]

        await eventually(calc_holds_the_deal)
        await setup_company(client, stack)
        ann = auth(stack, "rep", "ann")

        async def attained(percent: str) -> bool:
            r = await client.get(f"{stack.quota}/attainment/ann/{QUARTER}", headers=ann)
            return r.status_code == 200 and r.json()["attainment"] == percent

        await eventually(lambda: attained("12.5"))


async def test_a_deal_in_another_currency_waits_for_its_rate_then_earns(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await setup_company(client, stack)
        admin = auth(stack, "admin", "admin-1")
        eur = {**deal("won", amount="1000.00"), "currency": "EUR", "external_id": "D-EUR"}
        r = await send(client, stack, "eur-1", {"type": "deal.snapshot", "data": eur})
        assert r.status_code == 202, r.text

        async def parked() -> bool:
            r = await client.get(f"{stack.calc}/exceptions", headers=admin)
            return [(e["kind"], e["deal"]) for e in r.json()] == [("missing_fx", "generic:D-EUR")]

        await eventually(parked)
        metrics = (await client.get(f"{stack.calc}/metrics")).text
        assert 'provisio_calc_exceptions{kind="missing_fx"} 1.0' in metrics

        day = (TODAY.replace(day=1)).isoformat()
        r = await client.put(f"{stack.quota}/fx-rates/{day}/EUR/USD", json={"rate": "1.0825"}, headers=admin)
        assert r.status_code == 201, r.text
        ann = auth(stack, "rep", "ann")

        async def earned() -> bool:
            r = await client.get(f"{stack.payout}/statements/ann", headers=ann)
            periods = r.json().get("pay_periods", []) if r.status_code == 200 else []
            # 1000.00 EUR x 1.0825 = 1082.50 USD; 10% = 108.25
            return [(p["pay_period"], p["payable"]) for p in periods] == [(PAY_PERIOD, "108.25")]

        await eventually(earned)
        assert (await client.get(f"{stack.calc}/exceptions", headers=admin)).json() == []
