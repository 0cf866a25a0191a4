"""Seeded random plans (with draws) and deals, run through libs/calc, and the ledger entries
calc-engine would post for them: the inputs of the tests that hold payout-service to
`provisio calc`'s payouts and to the payout invariant."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from payout_fakes import fake_uow

from payout_service.adapters.repositories import PayoutRepositories
from payout_service.service_layer.handlers import on_ledger_entry, on_payee, on_plan_version
from provisio_calc import CalcResult, Deal, Payee, Plan, calculate, load_plan, pay_period_of
from provisio_common.events import LedgerEntryRecord, PayeeRecord, PlanVersion
from provisio_common.testing.fakes import FakeStore

PAYEES = ("ann", "bob", "cy", "dee")


@dataclass(frozen=True)
class Scenario:
    """One plan, its deals, and what libs/calc computes for them as of `as_of`."""

    plan: Plan
    deals: list[Deal]
    as_of: date
    result: CalcResult

    def plan_record(self) -> PlanVersion:
        return PlanVersion(
            plan_id=self.plan.id,
            version=1,
            document=self.plan.document(),
            created_at=datetime(2027, 1, 1, tzinfo=UTC),
        )

    def payee_records(self) -> list[PayeeRecord]:
        return [
            PayeeRecord.model_validate(
                {"id": p, "name": p.title(), "payroll_id": f"E-{p}", "assignments": [{"plan": self.plan.id}]}
            )
            for p in PAYEES
        ]

    def ledger_records(self) -> list[LedgerEntryRecord]:
        """One `ledger.v1` entry per dated posting of every line, as calc-engine posts them."""
        return ledger_records(self.plan, self.result)


def ledger_records(plan: Plan, result: CalcResult, prefix: str = "") -> list[LedgerEntryRecord]:
    """The entries calc-engine posts for `result`'s lines (one per dated posting)."""
    records = []
    for line in result.lines:
        for n, entry in enumerate(line.entries):
            if entry.amount == 0:
                continue
            records.append(
                LedgerEntryRecord(
                    entry_id=f"{prefix}{line.payee}:{line.component}:{line.period}:{n}",
                    payee=line.payee,
                    plan=plan.id,
                    plan_version=1,
                    component=line.component,
                    period=line.period,
                    entry_date=entry.day,
                    pay_period=pay_period_of(entry.day, plan.pay_frequency),
                    amount=entry.amount,
                    currency=plan.currency,
                    rounding=plan.rounding,
                    cash=line.cash,
                    deal=entry.deal,
                    cause_event="test",
                    explanation={},
                    posted_at=datetime(2027, 1, 1, tzinfo=UTC),
                )
            )
    return records


def _amount(rng: random.Random, low: int, high: int, digits: int = 3) -> str:
    scale = 10**digits
    return str(Decimal(rng.randrange(low * scale, high * scale)) / scale)


def random_plan(
    rng: random.Random, *, draw: bool | None = None, currency: str | None = None, frequency: str | None = None
) -> Plan:
    """A plan for 2027 (ending early sometimes): a commission, a spif, maybe a non-cash
    contest prize, a clawback window, and often a draw."""
    frequency = frequency or rng.choice(["month", "month", "quarter"])
    end = rng.choice([date(2027, 12, 31), date(2027, 9, 30), date(2027, 6, 30)])
    components: list[dict[str, Any]] = [
        {"id": "new-business", "kind": "commission", "rate": str(Decimal(rng.randrange(1, 2000)) / 10000)},
        {
            "id": "spif",
            "kind": "spif",
            "window": {"from": "2027-02-01", "to": "2027-05-31"},
            "per_deal": _amount(rng, 50, 400, 2),
        },
    ]
    if rng.random() < 0.5:
        components.append(
            {
                "id": "contest",
                "kind": "contest",
                "window": {"from": "2027-01-01", "to": "2027-03-31"},
                "rank_by": {"metric": "amount"},
                "prizes": [
                    {"rank": 1, "reward": "Trip", "value": _amount(rng, 500, 3000, 2), "cash": False},
                    {"rank": 2, "amount": _amount(rng, 100, 900, 2)},
                ],
            }
        )
    document: dict[str, Any] = {
        "id": f"plan-{rng.randrange(10**6)}",
        "currency": currency or rng.choice(["USD", "USD", "EUR", "JPY", "KWD"]),
        "period": rng.choice(["quarter", "month"]),
        "pay_frequency": frequency,
        "rounding": rng.choice(["half_up", "half_even", "down"]),
        "effective": {"from": "2027-01-01", "to": end.isoformat()},
        "components": components,
        "clawback": {"window_days": rng.choice([30, 60, 120])},
    }
    if draw if draw is not None else rng.random() < 0.7:
        document["draw"] = {
            "amount": _amount(rng, 300, 4000),
            "per": rng.choice(["month", "quarter"]),
            "recoverable": rng.random() < 0.75,
        }
    return load_plan(document)


def random_deals(
    rng: random.Random,
    count: int,
    first: date,
    last: date,
    currency: str = "USD",
    prefix: str = "D",
    late_share: float = 0.0,
) -> list[Deal]:
    """Won deals between `first` and `last`, some later cancelled or reduced (inside or
    outside the clawback window), some split; with `late_share`, some reach the CRM
    feed days after they closed (their first revision is changed later)."""
    deals: list[Deal] = []
    span = (last - first).days
    for n in range(count):
        close = first + timedelta(days=rng.randrange(span + 1))
        owner = rng.choice(PAYEES[:3])
        arrived = close + timedelta(days=rng.randrange(5, 40) if rng.random() < late_share else 0)
        base: dict[str, Any] = {
            "source": "crm",
            "external_id": f"{prefix}{n}",
            "revision": 1,
            "status": "won",
            "amount": _amount(rng, 1000, 60000),
            "currency": currency,
            "close_date": close.isoformat(),
            "changed_at": f"{arrived.isoformat()}T09:00:00+00:00",
            "owner": owner,
            "type": "new",
        }
        if rng.random() < 0.2:
            other = rng.choice([p for p in PAYEES if p != owner])
            base["splits"] = [{"payee": owner, "share": "0.6"}, {"payee": other, "share": "0.4"}]
        deals.append(Deal.from_dict(base))
        if rng.random() < 0.3:
            later = arrived + timedelta(days=rng.randrange(1, 150))
            change: dict[str, Any] = {"revision": 2, "changed_at": f"{later.isoformat()}T10:00:00+00:00"}
            if rng.random() < 0.6:
                change["status"] = "cancelled"
            else:
                change["amount"] = str(Decimal(base["amount"]) / 3)
            deals.append(Deal.from_dict({**base, **change}))
    return deals


def scenario(seed: int, *, deals: int = 14, draw: bool | None = None) -> Scenario:
    """Seeded: a random plan and deals over 2027, computed as of 2028-03-31."""
    rng = random.Random(seed)
    plan = random_plan(rng, draw=draw)
    dealt = random_deals(rng, deals, date(2027, 1, 1), date(2027, 11, 30), plan.currency)
    as_of = date(2028, 3, 31)
    payees = [Payee(p) for p in PAYEES]
    return Scenario(plan, dealt, as_of, calculate(plan, dealt, payees=payees, as_of=as_of))


def payouts_by_key(result: CalcResult) -> dict[tuple[str, str], dict[str, Decimal]]:
    """libs/calc's payouts by (payee, pay period), each figure as a Decimal."""
    return {
        (p.payee, p.pay_period): {
            "earned": p.earned,
            "draw_topup": p.draw_topup,
            "recovered": p.recovered,
            "draw_balance": p.balance,
            "payable": p.payable,
            "non_cash": p.non_cash,
        }
        for p in result.payouts
    }


def figures(rows: Sequence[Mapping[str, Any]], payee: str) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Statement rows (API shape) by (payee, pay period), the figures libs/calc also has."""
    names = ("earned", "draw_topup", "recovered", "draw_balance", "payable", "non_cash")
    return {(payee, r["pay_period"]): {n: Decimal(r[n]) for n in names} for r in rows}


async def feed(store: FakeStore[PayoutRepositories], case: Scenario) -> None:
    """What the consumer does with a scenario's records: each in its own unit of work."""
    async with fake_uow(store) as uow:
        await on_plan_version(uow, case.plan_record())
        for payee in case.payee_records():
            await on_payee(uow, payee)
        await uow.commit()
    for record in case.ledger_records():
        async with fake_uow(store) as uow:
            await on_ledger_entry(uow, record)
            await uow.commit()
