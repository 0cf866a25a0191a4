"""The payout cycle over real HTTP, Postgres and the broker: entries, payees and the plan
arrive through the real consumer; an admin closes a pay period (in order), adjusts, builds a
batch another admin approves (published on `payouts.v1`); payroll pulls it as JSON and CSV
and acknowledges it (idempotently); statements show what was paid; roles are enforced."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from payout_fakes import ledger_record, payee_record, plan_record
from payout_http import Payout, running_payout

from provisio_common.auth import Role
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, eventually

TODAY = date(2027, 3, 10)
HEADER = "batch_id,line_id,employee_id,earning_code,amount,currency,cash,pay_date,reference"


@pytest.fixture
async def payout(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Payout]:
    async with running_payout(fresh_db, base_settings, TODAY) as running:
        yield running


def entry(entry_id: str, payee: str, amount: str, day: str, **fields: Any) -> Any:
    return ledger_record(entry_id, payee, amount=amount, entry_date=day, pay_period=day[:7], **fields)


async def payees_arrived(payout: Payout, sentinel: str) -> None:
    """Wait until the payee replica holds `sentinel` (published last: `payees.v1` is one
    ordered partition, so every payee published before it is there too)."""

    async def seen() -> bool:
        r = await payout.client.get(f"/statements/{sentinel}", headers=payout.auth("manager", "mgr"))
        return r.status_code == 200

    await eventually(seen)


async def company(payout: Payout) -> None:
    """mgr <- ann (payroll E-1), bob (E-2), cy (no payroll id); January and February entries."""
    await payout.publish(plan_record(), "quota-service")
    for record in [
        payee_record("mgr", payroll_id="E-0", plans=["flat"]),
        payee_record("cy", plans=["flat"]),
        payee_record("bob", payroll_id="E-2", plans=["flat"]),
        payee_record("ann", "mgr", payroll_id="E-1", plans=["flat"]),
    ]:
        await payout.publish(record, "quota-service")
    for record in [
        entry("a1", "ann", "1000.004", "2027-01-10"),
        entry("a2", "ann", "500.004", "2027-01-31", component="club"),
        entry("a3", "ann", "3000", "2027-01-31", component="trip", cash=False),
        entry("b1", "bob", "250", "2027-01-12"),
        entry("c1", "cy", "75", "2027-01-15"),
        entry("a4", "ann", "40", "2027-02-02"),
    ]:
        await payout.publish(record)
    await payees_arrived(payout, "ann")

    async def arrived() -> bool:
        counts = 0
        for payee in ("ann", "bob", "cy"):
            r = await payout.call("GET", f"/statements/{payee}", "admin", "ada")
            counts += sum(p["entries"] for p in r.json()["pay_periods"])
        return counts == 6

    await eventually(arrived)


async def test_the_payout_cycle_from_close_to_payroll_acknowledgement(payout: Payout) -> None:
    await company(payout)
    # Close: in order, once, admin only.
    others: tuple[Role, ...] = ("rep", "manager", "payroll", "ops")
    for role in others:
        await payout.call("POST", "/pay-periods/2027-02/close", role, "x", expect=403)
    early = await payout.json("POST", "/pay-periods/2027-02/close", "admin", "ada", expect=409)
    assert early["detail"] == "pay period 2027-01 is still open; pay periods close in order"
    closed = await payout.json("POST", "/pay-periods/2027-01/close", "admin", "ada")
    assert (closed["pay_period"], closed["status"], closed["closed_by"], closed["statements"]) == (
        "2027-01",
        "closed",
        "ada",
        3,
    )
    await payout.call("POST", "/pay-periods/2027-01/close", "admin", "ada", expect=409)
    periods = await payout.json("GET", "/pay-periods", "ops", "otto")
    assert [(p["pay_period"], p["status"]) for p in periods] == [("2027-01", "closed"), ("2027-02", "open")]

    # A late entry dated in January lands in February.
    await payout.publish(entry("late", "ann", "-100", "2027-01-25"))

    async def late_landed() -> bool:
        r = await payout.call("GET", "/statements/ann/2027-02", "rep", "ann")
        return any(line["original_pay_period"] == "2027-01" for line in r.json()["lines"])

    await eventually(late_landed)
    statement = {
        p["pay_period"]: p for p in (await payout.json("GET", "/statements/ann", "rep", "ann"))["pay_periods"]
    }
    assert (statement["2027-01"]["status"], statement["2027-01"]["payable"]) == ("closed", "1500.01")
    assert (statement["2027-02"]["earned"], statement["2027-02"]["payable"]) == ("-60", "-60.00")

    # Adjustments: another admin approves.
    adjustment = await payout.json(
        "POST",
        "/adjustments",
        "admin",
        "ada",
        expect=201,
        json={
            "payee": "bob",
            "amount": "-50.25",
            "currency": "USD",
            "reason": "advance",
            "pay_period": "2027-02",
        },
    )
    assert (adjustment["status"], adjustment["pay_period"], adjustment["counts_in"]) == (
        "pending",
        "2027-02",
        None,
    )
    await payout.call("POST", f"/adjustments/{adjustment['id']}/approve", "admin", "ada", expect=409)
    await payout.call("POST", f"/adjustments/{adjustment['id']}/approve", "rep", "bob", expect=403)
    approved = await payout.json("POST", f"/adjustments/{adjustment['id']}/approve", "admin", "bea")
    assert (approved["status"], approved["decided_by"], approved["counts_in"]) == (
        "approved",
        "bea",
        "2027-02",
    )
    listed = await payout.json("GET", "/adjustments?payee=bob&status=approved", "ops", "otto")
    assert [a["id"] for a in listed] == [adjustment["id"]]
    await payout.call("GET", "/adjustments", "rep", "bob", expect=403)
    bad = await payout.json(
        "POST",
        "/adjustments",
        "admin",
        "ada",
        expect=422,
        json={"payee": "bob", "amount": 1.5, "currency": "USD", "reason": "x"},
    )
    assert bad["errors"][0]["field"] == "amount"

    # Build: from a closed pay period only; two admins.
    await payout.call("POST", "/batches", "admin", "ada", expect=409, json={"pay_period": "2027-02"})
    built = await payout.json("POST", "/batches", "admin", "ada", expect=201, json={"pay_period": "2027-01"})
    batch_id = built["id"]
    assert (built["status"], built["total"], built["pay_date"]) == ("draft", "1750.01", "2027-01-31")
    assert [
        (line["payee"], line["earning_code"], line["amount"], line["cash"]) for line in built["lines"]
    ] == [
        ("ann", "commission", "1000.01", True),
        ("ann", "bonus", "500.00", True),
        ("ann", "non_cash_award", "3000.00", False),
        ("bob", "commission", "250.00", True),
    ]
    assert [(e["payee"], e["amount"], e["status"]) for e in built["exceptions"]] == [
        ("cy", "75.00", "exception")
    ]
    readers: tuple[Role, ...] = ("rep", "manager", "payroll")
    for role in readers:
        await payout.call("GET", f"/batches/{batch_id}", role, "x", expect=403)
        await payout.call("GET", "/payroll/batches", role, "x", expect=200 if role == "payroll" else 403)
    await payout.call("POST", f"/batches/{batch_id}/approve", "admin", "ada", expect=409)
    await payout.call("POST", f"/batches/{batch_id}/approve", "ops", "otto", expect=403)
    assert (await payout.json("POST", f"/batches/{batch_id}/approve", "admin", "bea"))["status"] == "approved"

    async def approved_published() -> bool:
        return any(e.type == "payout.batch_approved" and e.subject == batch_id for e in payout.events)

    await eventually(approved_published)

    # Payroll pulls: list with a cursor, JSON, CSV; the pull makes it non-cancellable.
    page = await payout.json("GET", "/payroll/batches?status=approved", "payroll", "acme")
    assert [(b["id"], b["total"], b["lines"], b["status"]) for b in page["batches"]] == [
        (batch_id, "1750.01", 4, "approved")
    ]
    after = await payout.json("GET", f"/payroll/batches?after={page['next']}", "payroll", "acme")
    assert after == {"batches": [], "next": page["next"]}
    pulled = await payout.json("GET", f"/payroll/batches/{batch_id}", "payroll", "acme")
    assert [(line["employee_id"], line["earning_code"], line["amount"]) for line in pulled["lines"]] == [
        ("E-1", "commission", "1000.01"),
        ("E-1", "bonus", "500.00"),
        ("E-1", "non_cash_award", "3000.00"),
        ("E-2", "commission", "250.00"),
    ]
    csv_response = await payout.call("GET", f"/payroll/batches/{batch_id}/lines.csv", "payroll", "acme")
    assert csv_response.headers["content-type"].startswith("text/csv")
    text = csv_response.text
    assert text.splitlines()[0] == HEADER
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["employee_id"], r["earning_code"], r["amount"], r["cash"], r["pay_date"]) for r in table] == [
        ("E-1", "commission", "1000.01", "true", "2027-01-31"),
        ("E-1", "bonus", "500.00", "true", "2027-01-31"),
        ("E-1", "non_cash_award", "3000.00", "false", "2027-01-31"),
        ("E-2", "commission", "250.00", "true", "2027-01-31"),
    ]
    assert {r["batch_id"] for r in table} == {batch_id}
    cancel = await payout.json("POST", f"/batches/{batch_id}/cancel", "admin", "bea", expect=409)
    assert "pulled" in cancel["detail"]

    # Acknowledge: idempotent per key; conflicts and unknown lines refused.
    ids = [line["line_id"] for line in pulled["lines"]]
    body = {
        "lines": [
            {"line_id": ids[0], "status": "paid", "payroll_ref": "PR-1"},
            {"line_id": ids[3], "status": "rejected", "reason": "bank"},
        ]
    }
    key = {"Idempotency-Key": "ack-1"}
    await payout.call(
        "POST", f"/payroll/batches/{batch_id}/ack", "admin", "ada", expect=403, json=body, headers=key
    )
    missing = await payout.json(
        "POST", f"/payroll/batches/{batch_id}/ack", "payroll", "acme", expect=422, json=body
    )
    assert missing["errors"][0]["field"] == "Idempotency-Key"
    first = await payout.call(
        "POST", f"/payroll/batches/{batch_id}/ack", "payroll", "acme", json=body, headers=key
    )
    assert first.json()["settled"] == [ids[0], ids[3]] and first.json()["status"] == "approved"
    again = await payout.call(
        "POST", f"/payroll/batches/{batch_id}/ack", "payroll", "acme", json=body, headers=key
    )
    assert again.text == first.text
    other = {"lines": [{"line_id": ids[1], "status": "paid"}]}
    reused = await payout.json(
        "POST", f"/payroll/batches/{batch_id}/ack", "payroll", "acme", expect=422, json=other, headers=key
    )
    assert reused["errors"][0]["field"] == "Idempotency-Key"
    flip = {"lines": [{"line_id": ids[0], "status": "rejected"}]}
    conflict = await payout.json(
        "POST",
        f"/payroll/batches/{batch_id}/ack",
        "payroll",
        "acme",
        expect=409,
        json=flip,
        headers={"Idempotency-Key": "ack-2"},
    )
    assert conflict["detail"] == f"line {ids[0]} is already paid"
    unknown = {"lines": [{"line_id": "nope", "status": "paid"}]}
    named = await payout.json(
        "POST",
        f"/payroll/batches/{batch_id}/ack",
        "payroll",
        "acme",
        expect=422,
        json=unknown,
        headers={"Idempotency-Key": "ack-3"},
    )
    assert named["errors"] == [
        {"field": "lines[0].line_id", "message": f"batch {batch_id} has no line 'nope'"}
    ]
    rest = {"lines": [{"line_id": ids[1], "status": "paid"}, {"line_id": ids[2], "status": "paid"}]}
    done = await payout.json(
        "POST",
        f"/payroll/batches/{batch_id}/ack",
        "payroll",
        "acme",
        json=rest,
        headers={"Idempotency-Key": "ack-4"},
    )
    assert done["status"] == "settled"

    async def settled_published() -> bool:
        settled = [e for e in payout.events if e.type == "payout.line_settled"]
        # Keyed by payee: the line that settled the batch need not arrive last.
        return len(settled) == 4 and "settled" in {e.data["batch_status"] for e in settled}

    await eventually(settled_published)
    assert all(e.subject.startswith(batch_id) for e in payout.events)

    # Statements show what was paid; a rep sees theirs, not batches.
    ann = {
        p["pay_period"]: p for p in (await payout.json("GET", "/statements/ann", "rep", "ann"))["pay_periods"]
    }
    assert (ann["2027-01"]["payable"], ann["2027-01"]["paid"]) == ("1500.01", "1500.01")
    bob = await payout.json("GET", "/statements/bob", "admin", "ada")
    assert bob["pay_periods"][0]["paid"] == "0.00"
    await payout.call("GET", "/statements/ann", "manager", "mgr")
    await payout.call("GET", "/statements/bob", "manager", "mgr", expect=403)

    # February: bob's rejected line and cy's held-back one are carried once cy has a payroll id.
    await payout.publish(payee_record("cy", payroll_id="E-3", plans=["flat"]), "quota-service")
    await payout.publish(payee_record("zed", "mgr"), "quota-service")
    await payees_arrived(payout, "zed")
    await payout.json("POST", "/pay-periods/2027-02/close", "admin", "ada")
    feb = await payout.json("POST", "/batches", "admin", "ada", expect=201, json={"pay_period": "2027-02"})
    # ann (-60) and bob (-50.25 adjustment) have nothing to pay in February: carried out.
    assert [
        (line["payee"], line["pay_period"], line["amount"], line["payroll_id"]) for line in feb["lines"]
    ] == [
        ("bob", "2027-01", "250.00", "E-2"),
        ("cy", "2027-01", "75.00", "E-3"),
    ]
    assert [line["carried_from"] for line in feb["lines"]] == [ids[3], built["exceptions"][0]["id"]]
    assert feb["lines"][0]["entry_ids"] == ["b1"] and feb["exceptions"] == []
    bob_feb = {
        p["pay_period"]: p
        for p in (await payout.json("GET", "/statements/bob", "admin", "ada"))["pay_periods"]
    }
    assert (bob_feb["2027-02"]["payable"], bob_feb["2027-02"]["carried_out"]) == ("0.00", "-50.25")
    assert bob_feb["2027-03"]["carried_in"] == "-50.25"

    metrics = (await payout.client.get("/metrics")).text
    assert 'provisio_payout_batches{status="settled"} 1.0' in metrics
    assert 'provisio_payout_batch_lines{status="paid"}' in metrics
    assert (
        "provisio_payout_approved_amount_total" in metrics and "provisio_payout_paid_amount_total" in metrics
    )
    assert "provisio_payout_oldest_unsettled_batch_age_seconds" in metrics
