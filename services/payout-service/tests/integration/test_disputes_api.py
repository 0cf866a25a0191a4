"""Disputes over real HTTP, Postgres and the broker: who may open, read, comment, resolve
and reopen what; an accepted dispute's pending adjustment approved by a second admin and
shown live in the dispute; `dispute.opened` / `dispute.resolved` in the outbox (key: the
payee) and on `payouts.v1`; one audit row per step; the dispute gauges."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from payout_fakes import ledger_record, payee_record, plan_record
from payout_http import Payout, running_payout

from provisio_common.auth import Role
from provisio_common.db import create_engine
from provisio_common.events import Envelope
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, eventually

TODAY = date(2027, 3, 10)


@pytest.fixture
async def payout(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Payout]:
    async with running_payout(fresh_db, base_settings, TODAY) as running:
        yield running


async def rows(payout: Payout, sql: str) -> list[tuple[Any, ...]]:
    """What a SQL query on payout-service's database answers."""
    engine = create_engine(payout.settings.database_url)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in (await conn.execute(sa.text(sql))).all()]
    finally:
        await engine.dispose()


async def company(payout: Payout) -> None:
    """mgr <- ann, bob; zed <- yan; January entries for each rep."""
    await payout.publish(plan_record(), "quota-service")
    for record in [
        payee_record("mgr", plans=["flat"]),
        payee_record("zed", plans=["flat"]),
        payee_record("ann", "mgr", plans=["flat"]),
        payee_record("bob", "mgr", plans=["flat"]),
        payee_record("yan", "zed", plans=["flat"]),
    ]:
        await payout.publish(record, "quota-service")
    entries = [
        ledger_record("a1", "ann", amount="1000", entry_date="2027-01-10", pay_period="2027-01"),
        ledger_record(
            "a2", "ann", amount="500", entry_date="2027-01-31", pay_period="2027-01", component="club"
        ),
        ledger_record("b1", "bob", amount="250", entry_date="2027-01-12", pay_period="2027-01"),
        ledger_record("y1", "yan", amount="75", entry_date="2027-01-15", pay_period="2027-01"),
    ]
    for entry in entries:
        await payout.publish(entry)

    async def arrived() -> bool:
        counts = 0
        for payee in ("ann", "bob", "yan"):
            r = await payout.client.get(f"/statements/{payee}", headers=payout.auth("admin", "ada"))
            counts += sum(p["entries"] for p in r.json()["pay_periods"]) if r.status_code == 200 else 0
        known = await payout.client.get("/statements/yan", headers=payout.auth("manager", "zed"))
        return counts == len(entries) and known.status_code == 200

    await eventually(arrived)


def gauges(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("provisio_disputes_open", "provisio_dispute_oldest_open_age_seconds"):
            found[name] = float(value)
    return found


async def test_a_dispute_is_opened_discussed_resolved_with_an_adjustment_and_reopened_once(
    payout: Payout,
) -> None:
    await company(payout)
    body = {"payee": "ann", "pay_period": "2027-01", "entry_id": "a1", "message": "The D-1 spif is missing."}

    # Open: a rep for themselves, a manager for their subtree; nobody else.
    others: list[tuple[Role, str]] = [
        ("rep", "bob"),
        ("manager", "zed"),
        ("admin", "ada"),
        ("ops", "otto"),
        ("payroll", "acme"),
    ]
    for role, sub in others:
        await payout.call("POST", "/disputes", role, sub, expect=403, json=body)
    opened = await payout.json("POST", "/disputes", "rep", "ann", expect=201, json=body)
    ann_id = opened["id"]
    assert (opened["status"], opened["outcome"], opened["entry_id"], opened["adjustment"]) == (
        "open",
        None,
        "a1",
        None,
    )
    assert [(m["position"], m["kind"], m["author"], m["message"]) for m in opened["thread"]] == [
        (0, "opened", "ann", "The D-1 spif is missing.")
    ]
    bob = await payout.json(
        "POST",
        "/disputes",
        "manager",
        "mgr",
        expect=201,
        json={
            "payee": "bob",
            "pay_period": "2027-01",
            "component": "commission",
            "message": "rate looks low",
        },
    )
    own = await payout.json(
        "POST", "/disputes", "manager", "mgr", expect=201, json={**body, "payee": "mgr", "entry_id": None}
    )
    metrics = gauges((await payout.client.get("/metrics")).text)
    assert (
        metrics["provisio_disputes_open"] == 3.0 and metrics["provisio_dispute_oldest_open_age_seconds"] > 0
    )

    # Read: a rep their own, a manager their subtree, admin and ops everything.
    async def listed(role: Role, sub: str, query: str = "") -> list[str]:
        return [d["id"] for d in await payout.json("GET", f"/disputes{query}", role, sub)]

    assert await listed("rep", "ann") == [ann_id]
    assert await listed("rep", "bob") == [bob["id"]]
    assert await listed("manager", "mgr") == [ann_id, bob["id"], own["id"]]
    assert await listed("manager", "zed") == []
    assert await listed("ops", "otto") == await listed("admin", "ada") == [ann_id, bob["id"], own["id"]]
    assert await listed("ops", "otto", "?payee=bob&status=open") == [bob["id"]]
    await payout.call("GET", "/disputes?payee=bob", "rep", "ann", expect=403)
    await payout.call("GET", "/disputes?payee=ann", "manager", "zed", expect=403)
    await payout.call("GET", "/disputes", "payroll", "acme", expect=403)
    await payout.call("GET", f"/disputes/{ann_id}", "rep", "bob", expect=403)
    await payout.call("GET", f"/disputes/{ann_id}", "manager", "zed", expect=403)
    await payout.call("GET", "/disputes/nope", "admin", "ada", expect=404)

    # Comments: whoever may read it, but ops (read-only).
    await payout.call(
        "POST", f"/disputes/{ann_id}/comments", "ops", "otto", expect=403, json={"message": "hm"}
    )
    await payout.call(
        "POST", f"/disputes/{ann_id}/comments", "rep", "bob", expect=403, json={"message": "hm"}
    )
    commented = await payout.json(
        "POST",
        f"/disputes/{ann_id}/comments",
        "manager",
        "mgr",
        expect=201,
        json={"message": "checking the CRM"},
    )
    assert [(m["kind"], m["author"], m["role"]) for m in commented["thread"]] == [
        ("opened", "ann", "rep"),
        ("comment", "mgr", "manager"),
    ]

    # Resolve: an admin or a manager above the payee, never the payee.
    accept = {
        "outcome": "accepted",
        "note": "spif added",
        "adjustment": {"amount": "250.00", "currency": "usd"},
    }
    await payout.call("POST", f"/disputes/{ann_id}/resolve", "rep", "ann", expect=403, json=accept)
    await payout.call("POST", f"/disputes/{ann_id}/resolve", "ops", "otto", expect=403, json=accept)
    await payout.call("POST", f"/disputes/{ann_id}/resolve", "manager", "zed", expect=403, json=accept)
    await payout.call("POST", f"/disputes/{own['id']}/resolve", "manager", "mgr", expect=403, json=accept)
    resolved = await payout.json("POST", f"/disputes/{ann_id}/resolve", "admin", "ada", json=accept)
    adjustment = resolved["adjustment"]
    assert (resolved["status"], resolved["outcome"], resolved["resolved_by"]) == (
        "resolved",
        "accepted",
        "ada",
    )
    assert (adjustment["status"], adjustment["amount"], adjustment["currency"], adjustment["payee"]) == (
        "pending",
        "250.00",
        "USD",
        "ann",
    )
    assert resolved["thread"][-1]["kind"] == "resolved" and resolved["thread"][-1]["message"] == "spif added"
    twice = await payout.json("POST", f"/disputes/{ann_id}/resolve", "admin", "bea", expect=409, json=accept)
    assert "already resolved" in twice["detail"]
    pending = await payout.json("GET", "/adjustments?payee=ann&status=pending", "admin", "bea")
    assert [a["id"] for a in pending] == [adjustment["id"]]

    # The adjustments path decides the money: a second admin approves; the dispute shows it.
    await payout.call("POST", f"/adjustments/{adjustment['id']}/approve", "admin", "ada", expect=409)
    await payout.json("POST", f"/adjustments/{adjustment['id']}/approve", "admin", "bea")
    shown = await payout.json("GET", f"/disputes/{ann_id}", "rep", "ann")
    assert (
        shown["adjustment"]["status"],
        shown["adjustment"]["decided_by"],
        shown["adjustment"]["counts_in"],
    ) == (
        "approved",
        "bea",
        "2027-01",
    )
    january = await payout.json("GET", "/statements/ann/2027-01", "rep", "ann")
    assert [(a["id"], Decimal(a["amount"])) for a in january["approved_adjustments"]] == [
        (adjustment["id"], Decimal(250))
    ]
    assert [
        d["adjustment"]["status"] for d in await payout.json("GET", "/disputes?payee=ann", "ops", "otto")
    ] == ["approved"]

    # Rejected: no adjustment; the rep reopens once with a new message.
    reject = {"outcome": "rejected", "note": "the rate is right"}
    wrong = await payout.json(
        "POST",
        f"/disputes/{bob['id']}/resolve",
        "manager",
        "mgr",
        expect=422,
        json={**reject, "adjustment": {"amount": "10", "currency": "USD"}},
    )
    assert [e["field"] for e in wrong["errors"]] == ["adjustment"]
    await payout.json("POST", f"/disputes/{bob['id']}/resolve", "manager", "mgr", json=reject)
    await payout.call("POST", f"/disputes/{ann_id}/reopen", "rep", "ann", expect=409, json={"message": "x"})
    await payout.call(
        "POST", f"/disputes/{bob['id']}/reopen", "rep", "ann", expect=403, json={"message": "x"}
    )
    reopened = await payout.json(
        "POST", f"/disputes/{bob['id']}/reopen", "rep", "bob", json={"message": "see the signed quote"}
    )
    assert (reopened["status"], reopened["outcome"], reopened["reopened"]) == ("open", None, True)
    assert [m["kind"] for m in reopened["thread"]] == ["opened", "resolved", "reopened"]
    await payout.json("POST", f"/disputes/{bob['id']}/resolve", "admin", "ada", json=reject)
    second = await payout.json(
        "POST", f"/disputes/{bob['id']}/reopen", "rep", "bob", expect=409, json={"message": "again"}
    )
    assert "reopened already" in second["detail"]
    await payout.json("POST", f"/disputes/{own['id']}/resolve", "admin", "ada", json=reject)
    metrics = gauges((await payout.client.get("/metrics")).text)
    assert metrics == {"provisio_disputes_open": 0.0, "provisio_dispute_oldest_open_age_seconds": 0.0}

    # Events: in the outbox on payouts.v1 keyed by payee, and on the broker.
    expected = [
        ("dispute.opened", "ann", ann_id),
        ("dispute.opened", "bob", bob["id"]),
        ("dispute.opened", "mgr", own["id"]),
        ("dispute.resolved", "ann", ann_id),
        ("dispute.resolved", "bob", bob["id"]),
        ("dispute.opened", "bob", bob["id"]),
        ("dispute.resolved", "bob", bob["id"]),
        ("dispute.resolved", "mgr", own["id"]),
    ]
    outbox = await rows(payout, "SELECT topic, key, payload FROM outbox ORDER BY id")
    assert [(topic, Envelope.from_bytes(payload).type, key) for topic, key, payload in outbox] == [
        ("payouts.v1", event_type, payee) for event_type, payee, _ in expected
    ]

    def per_payee(events: list[tuple[str, str, str]]) -> dict[str, list[tuple[str, str]]]:
        # payouts.v1 is keyed by payee: order holds within a key, not across partitions.
        keyed: dict[str, list[tuple[str, str]]] = {}
        for event_type, payee, subject in events:
            keyed.setdefault(payee, []).append((event_type, subject))
        return keyed

    async def published() -> bool:
        seen = [(e.type, e.data["payee"], e.subject) for e in payout.events]
        return per_payee(seen) == per_payee(expected)

    await eventually(published)
    accepted = next(e for e in payout.events if e.type == "dispute.resolved" and e.subject == ann_id)
    assert accepted.data["adjustment"] == {
        "adjustment_id": adjustment["id"],
        "amount": "250.00",
        "currency": "USD",
        "status": "pending",
    }
    # The reopen is the second dispute.opened of bob's dispute (order holds per key).
    reopens: dict[tuple[str, str | None], list[bool]] = {}
    for e in payout.events:
        if e.type == "dispute.opened":
            reopens.setdefault((e.data["payee"], e.subject), []).append(e.data["reopened"])
    assert reopens == {
        ("ann", ann_id): [False],
        ("bob", bob["id"]): [False, True],
        ("mgr", own["id"]): [False],
    }

    # One audit row per step, with who did it.
    audited = await rows(
        payout, "SELECT action, actor, entity FROM audit_log WHERE action LIKE 'dispute.%' ORDER BY id"
    )
    assert [(action, actor) for action, actor, _ in audited] == [
        ("dispute.open", "ann"),
        ("dispute.open", "mgr"),
        ("dispute.open", "mgr"),
        ("dispute.comment", "mgr"),
        ("dispute.resolve", "ada"),
        ("dispute.resolve", "mgr"),
        ("dispute.reopen", "bob"),
        ("dispute.resolve", "ada"),
        ("dispute.resolve", "ada"),
    ]
    assert audited[0][2] == f"dispute:{ann_id}"


async def test_what_a_dispute_names_is_checked_and_a_bad_field_named(payout: Payout) -> None:
    await company(payout)
    good = {"payee": "ann", "pay_period": "2027-01", "message": "missing"}
    for change, field in [
        ({"payee": "nobody"}, "payee"),
        ({"pay_period": "2027-13"}, "pay_period"),
        ({"pay_period": "2026-12"}, "pay_period"),
        ({"entry_id": "b1"}, "entry_id"),
        ({"entry_id": "nope"}, "entry_id"),
        ({"entry_id": "a1", "component": "club"}, "component"),
        ({"message": ""}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 4001}, "message"),
        ({"message": "nul\u0000"}, "message"),
    ]:
        problem = await payout.json(
            "POST", "/disputes", "manager", "mgr", expect=422, json={**good, **change}
        )
        assert [e["field"] for e in problem["errors"]] == [field], (change, problem)
    longest = await payout.json(
        "POST", "/disputes", "rep", "ann", expect=201, json={**good, "message": "é" * 4000}
    )
    assert longest["message"] == "é" * 4000
    for resolution, field in [
        (
            {"outcome": "accepted", "note": "ok", "adjustment": {"amount": 1.5, "currency": "USD"}},
            "adjustment.amount",
        ),
        (
            {"outcome": "accepted", "note": "ok", "adjustment": {"amount": "1", "currency": "US1"}},
            "adjustment.currency",
        ),
        ({"outcome": "accepted", "note": ""}, "note"),
        ({"outcome": "maybe", "note": "ok"}, "outcome"),
    ]:
        problem = await payout.json(
            "POST", f"/disputes/{longest['id']}/resolve", "admin", "ada", expect=422, json=resolution
        )
        assert [e["field"] for e in problem["errors"]] == [field], (resolution, problem)
    await payout.call("GET", "/disputes?status=closed", "admin", "ada", expect=422)
    assert await rows(payout, "SELECT count(*) FROM disputes") == [(1,)]
    assert await rows(payout, "SELECT count(*) FROM adjustments") == [(0,)]
    assert await rows(payout, "SELECT action FROM audit_log") == [("dispute.open",)]
