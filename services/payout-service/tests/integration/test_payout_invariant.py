"""The payout invariant on real Postgres and the broker.

Month by month, random deals (splits, cancellations and reductions, deals that reach the
feed weeks after they closed) go through libs/calc as calc-engine would run it that day,
and the deltas it posts reach payout-service through `ledger.v1`; each month is closed,
batched, approved by a second admin, pulled and acknowledged by payroll, who rejects some
lines (carried into the next batch). After every month, for every payee:

- Σ lines acknowledged paid + Σ payable not yet in a non-rejected line = Σ payable over all
  pay periods (and nothing is pending once payroll has answered);
- a batched pay period's lines (with those waiting to be carried) sum exactly to its payable;
- statements' `paid` equals the paid lines; no ledger entry is in two lines that are not
  rejected, and every line pays only entries of its payee and pay period.

At the end everything closed is paid, to the cent.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from payout_http import Payout, running_payout
from payout_scenarios import PAYEES, random_deals, random_plan

from payout_service.domain.periods import last_day, next_period
from provisio_calc import Payee, calculate, pay_period_of
from provisio_common.events import LedgerEntryRecord, PayeeRecord, PlanVersion
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, eventually

Key = tuple[str, str, str, date, str | None, bool]
CLOCK = [date(2027, 1, 31)]


@pytest.fixture
async def payout(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Payout]:
    async with running_payout(fresh_db, base_settings, lambda: CLOCK[0]) as running:
        yield running


class Engine:
    """calc-engine, reduced to what matters here: post E' - E per dated posting."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.plan = random_plan(rng, currency="USD", frequency="month", draw=rng.random() < 0.5)
        self.deals = random_deals(rng, 16, date(2027, 1, 1), date(2027, 5, 31), "USD", late_share=0.3)
        self.posted: dict[Key, Decimal] = defaultdict(Decimal)
        self.count = 0

    def step(self, as_of: date) -> list[LedgerEntryRecord]:
        result = calculate(self.plan, self.deals, payees=[Payee(p) for p in PAYEES], as_of=as_of)
        desired: dict[Key, Decimal] = defaultdict(Decimal)
        for line in result.lines:
            for e in line.entries:
                desired[(line.payee, line.component, line.period, e.day, e.deal, line.cash)] += e.amount
        records = []
        for key in sorted(set(desired) | set(self.posted), key=str):
            delta = desired[key] - self.posted[key]
            if delta == 0:
                continue
            self.posted[key] += delta
            self.count += 1
            payee, component, period, day, deal, cash = key
            records.append(
                LedgerEntryRecord(
                    entry_id=f"e{self.count}",
                    payee=payee,
                    plan=self.plan.id,
                    plan_version=1,
                    component=component,
                    period=period,
                    entry_date=day,
                    pay_period=pay_period_of(day, "month"),
                    amount=delta,
                    currency="USD",
                    rounding=self.plan.rounding,
                    cash=cash,
                    deal=deal,
                    cause_event=f"step:{as_of}",
                    explanation={},
                    posted_at=datetime.combine(as_of, datetime.min.time(), UTC),
                )
            )
        return records


async def entries_shown(payout: Payout) -> int:
    total = 0
    for payee in PAYEES:
        statement = await payout.json("GET", f"/statements/{payee}", "admin", "ada")
        total += sum(p["entries"] for p in statement["pay_periods"])
    return total


async def pay_month(payout: Payout, rng: random.Random, pay_period: str, reject: float) -> None:
    """Close the month, build its batch (if anything is due), approve it with a second
    admin, pull it and acknowledge every line (some rejected)."""
    await payout.call("POST", f"/pay-periods/{pay_period}/close", "admin", "ada")
    built = await payout.client.post(
        "/batches", json={"pay_period": pay_period}, headers=payout.auth("admin", "ada")
    )
    if built.status_code == 409 and "nothing to pay" in built.text:
        return
    assert built.status_code == 201, built.text
    batch = built.json()
    await payout.call("POST", f"/batches/{batch['id']}/approve", "admin", "admin2")
    pulled = await payout.json("GET", f"/payroll/batches/{batch['id']}", "payroll", "acme")
    acks = [
        {"line_id": line["line_id"], "status": "rejected" if rng.random() < reject else "paid"}
        for line in pulled["lines"]
    ]
    if acks:
        answer = await payout.json(
            "POST",
            f"/payroll/batches/{batch['id']}/ack",
            "payroll",
            "acme",
            json={"lines": acks},
            headers={"Idempotency-Key": f"ack-{batch['id']}"},
        )
        assert answer["status"] == "settled"


async def check(payout: Payout, seen: set[str]) -> dict[str, tuple[Decimal, Decimal]]:
    """Every invariant; returns (Σ paid, Σ closed payable) per payee; notes in `seen` what
    happened (a carried negative payable, a rejected line, a draw recovery)."""
    batches = await payout.json("GET", "/batches", "ops", "otto")
    lines = [line for b in batches for line in b["lines"] + b["exceptions"]]
    batched = {(b["pay_period"], b["currency"]) for b in batches if b["status"] != "cancelled"}
    carried = {
        line["carried_from"] for line in lines if line["carried_from"] and line["status"] != "cancelled"
    }
    live = [line for line in lines if line["status"] in ("pending", "paid")]
    entries = [e for line in live for e in line["entry_ids"]]
    assert len(entries) == len(set(entries)), "an entry is in two lines that are not rejected"
    assert not [line for line in lines if line["status"] == "pending"], "payroll answered every line"
    found: dict[str, tuple[Decimal, Decimal]] = {}
    for payee in PAYEES:
        rows = (await payout.json("GET", f"/statements/{payee}", "admin", "ada"))["pay_periods"]
        mine = [line for line in lines if line["payee"] == payee and line["cash"]]
        paid_lines = sum((Decimal(line["amount"]) for line in mine if line["status"] == "paid"), Decimal(0))
        payable = sum((Decimal(r["payable"]) for r in rows), Decimal(0))
        not_in_line = Decimal(0)
        for row in rows:
            in_row = [line for line in mine if line["pay_period"] == row["pay_period"]]
            non_rejected = sum(
                (Decimal(line["amount"]) for line in in_row if line["status"] in ("pending", "paid")),
                Decimal(0),
            )
            not_in_line += Decimal(row["payable"]) - non_rejected
            if (row["pay_period"], row["currency"]) in batched:
                waiting = sum(
                    (
                        Decimal(line["amount"])
                        for line in in_row
                        if line["status"] in ("rejected", "exception") and line["id"] not in carried
                    ),
                    Decimal(0),
                )
                assert non_rejected + waiting == Decimal(row["payable"]), (payee, row)
            if row["status"] == "closed":
                assert Decimal(row["payable"]) >= 0, (payee, row)
        assert paid_lines + not_in_line == payable, payee
        assert sum((Decimal(r["paid"]) for r in rows), Decimal(0)) == paid_lines, payee
        in_lines: dict[str, set[str]] = defaultdict(set)
        for line in live:
            if line["payee"] == payee:
                in_lines[line["pay_period"]] |= set(line["entry_ids"])
        for pay_period, ids in in_lines.items():
            detail = await payout.json("GET", f"/statements/{payee}/{pay_period}", "admin", "ada")
            shown = {e["entry_id"] for lst in detail["lines"] for e in lst["entries"]}
            assert ids <= shown, (payee, pay_period)
        seen |= {"carried"} if any(Decimal(r["carried_out"]) != 0 for r in rows) else set()
        seen |= {"rejected"} if any(line["status"] == "rejected" for line in mine) else set()
        seen |= {"recovered"} if any(Decimal(r["recovered"]) != 0 for r in rows) else set()
        closed = sum((Decimal(r["payable"]) for r in rows if r["status"] == "closed"), Decimal(0))
        found[payee] = (paid_lines, closed)
    return found


# Seed 7: a recoverable draw, recovered from later earnings; seed 26: no draw, clawbacks
# larger than earnings carried into the next pay period.
@pytest.mark.parametrize(("seed", "covers"), [(7, "recovered"), (26, "carried")])
async def test_paid_plus_unpaid_payable_is_the_payable_and_no_entry_is_paid_twice(
    payout: Payout, seed: int, covers: str
) -> None:
    seen: set[str] = set()
    engine = Engine(seed)
    rng = random.Random(seed)
    await payout.publish(
        PlanVersion(
            plan_id=engine.plan.id,
            version=1,
            document=engine.plan.document(),
            created_at=datetime(2027, 1, 1, tzinfo=UTC),
        ),
        "quota-service",
    )
    for payee in PAYEES:
        data = {
            "id": payee,
            "name": payee,
            "payroll_id": f"E-{payee}",
            "assignments": [{"plan": engine.plan.id}],
        }
        await payout.publish(PayeeRecord.model_validate(data), "quota-service")
    pay_period = "2027-01"
    late = 0
    for month in range(8):
        as_of = last_day(pay_period)
        CLOCK[0] = as_of
        records = engine.step(as_of)
        late += sum(1 for r in records if r.pay_period < pay_period)
        for record in records:
            await payout.publish(record)

        async def arrived(expected: int = engine.count) -> bool:
            return await entries_shown(payout) == expected

        await eventually(arrived, timeout_s=30)
        await pay_month(payout, rng, pay_period, reject=0.25 if month < 6 else 0.0)
        await check(payout, seen)
        pay_period = next_period(pay_period)
    assert late > 0, "some entries arrived after their pay period had closed"
    # Payroll pays everything it rejected before: two more rounds with no rejections.
    for _ in range(2):
        CLOCK[0] = last_day(pay_period)
        await pay_month(payout, rng, pay_period, reject=0.0)
        pay_period = next_period(pay_period)
    totals = await check(payout, seen)
    for payee, (paid, closed) in totals.items():
        assert paid == closed, payee
    assert sum(paid for paid, _ in totals.values()) > 0
    assert {"rejected", covers} <= seen
