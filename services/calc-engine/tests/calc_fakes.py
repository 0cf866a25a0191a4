"""In-memory repositories of calc-engine, for unit tests on `FakeUnitOfWork`.

Plain data only (deep-copyable: the fake unit of work copies them on enter). Each passes
the same conformance suite as its SQL twin (`tests/integration/test_repository_conformance.py`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from typing_extensions import override

from calc_engine.adapters.parsed_deals import ParsedDeals
from calc_engine.adapters.reference_data import ReferenceCache
from calc_engine.adapters.repositories import (
    Activities,
    CalcExceptions,
    CalcRepositories,
    Deals,
    FxRates,
    Ledger,
    Payees,
    Plans,
    Quotas,
    References,
)
from calc_engine.consumers.spec import consumers
from calc_engine.domain.keyed import KeyedRun, people_of
from calc_engine.domain.ledger import LedgerEntry, PostingKey
from calc_engine.domain.model import HeldDeal, PlanException, RunScope, StoredPlan
from provisio_calc import CalcException, FxRate, Quota
from provisio_common.audit import AuditRecord
from provisio_common.events import (
    ActivityRecord,
    DealSnapshot,
    Envelope,
    FxRateRecord,
    PayeeRecord,
    PlanAssignment,
    PlanVersion,
    QuotaRecord,
    Schema,
)
from provisio_common.routes import outgoing, schema_of
from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork
from provisio_common.uow import InboxMark


class MemoryPlans(Plans):
    def __init__(self) -> None:
        self.documents: dict[tuple[str, int], dict[str, Any]] = {}

    @override
    async def add(self, plan: StoredPlan) -> None:
        self.documents.setdefault((plan.plan_id, plan.version), copy.deepcopy(plan.document))

    @override
    async def latest(self, plan_id: str) -> StoredPlan | None:
        held = [version for (pid, version) in self.documents if pid == plan_id]
        if not held:
            return None
        version = max(held)
        return StoredPlan(plan_id, version, copy.deepcopy(self.documents[(plan_id, version)]))

    @override
    async def versions(self, plan_id: str) -> list[StoredPlan]:
        held = sorted(version for (pid, version) in self.documents if pid == plan_id)
        return [StoredPlan(plan_id, v, copy.deepcopy(self.documents[(plan_id, v)])) for v in held]

    @override
    async def ids(self) -> list[str]:
        return sorted({pid for pid, _ in self.documents})


class MemoryPayees(Payees):
    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}

    @override
    async def put(self, payee_id: str, document: dict[str, Any]) -> None:
        self.by_id[payee_id] = copy.deepcopy(document)

    @override
    async def documents(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.by_id)


class MemoryQuotas(Quotas):
    def __init__(self) -> None:
        self.amounts: dict[tuple[str, str], Decimal] = {}

    @override
    async def put(self, payee: str, period: str, amount: Decimal) -> None:
        self.amounts[(payee, period)] = amount

    @override
    async def remove(self, payee: str, period: str) -> None:
        self.amounts.pop((payee, period), None)

    @override
    async def all(self) -> list[Quota]:
        return [Quota(payee, period, amount) for (payee, period), amount in self.amounts.items()]


class MemoryFxRates(FxRates):
    def __init__(self) -> None:
        self.rates: dict[tuple[date, str, str], Decimal] = {}

    @override
    async def put(self, rate: FxRate) -> None:
        self.rates[(rate.day, rate.from_currency, rate.to_currency)] = rate.rate

    @override
    async def remove(self, day: date, from_currency: str, to_currency: str) -> None:
        self.rates.pop((day, from_currency, to_currency), None)

    @override
    async def all(self) -> list[FxRate]:
        return [FxRate(day, f, t, rate) for (day, f, t), rate in self.rates.items()]


@dataclass
class KeptRevision:
    document: dict[str, Any]
    close_day: date | None


class MemoryDeals(Deals):
    def __init__(self) -> None:
        self.held_deals: dict[str, HeldDeal] = {}
        self.kept: dict[tuple[str, int], KeptRevision] = {}

    @override
    async def held_revision(self, deal: str) -> int | None:
        held = self.held_deals.get(deal)
        return None if held is None else held.revision

    @override
    async def hold(self, deal: str, revision: int, status: str) -> None:
        self.held_deals[deal] = HeldDeal(deal, revision, status)

    @override
    async def add_revision(
        self, deal: str, revision: int, document: dict[str, Any], close_day: date | None
    ) -> None:
        self.kept.setdefault((deal, revision), KeptRevision(copy.deepcopy(document), close_day))

    @override
    async def revision(self, deal: str, revision: int) -> dict[str, Any] | None:
        kept = self.kept.get((deal, revision))
        return None if kept is None else copy.deepcopy(kept.document)

    @override
    async def history(self, deal: str) -> list[dict[str, Any]]:
        return [copy.deepcopy(kept.document) for (key, _), kept in self.kept.items() if key == deal]

    @override
    async def held_snapshots(self) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(self.kept[(held.deal, held.revision)].document)
            for held in self.held_deals.values()
            if (held.deal, held.revision) in self.kept
        ]

    @override
    async def revisions(
        self, window: tuple[date, date] | None = None, deals: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        wanted = None
        if window is not None:
            wanted = {
                deal
                for (deal, _), kept in self.kept.items()
                if kept.close_day is not None and window[0] <= kept.close_day <= window[1]
            }
        return [
            copy.deepcopy(kept.document)
            for (deal, _), kept in self.kept.items()
            if (wanted is None or deal in wanted) and (deals is None or deal in deals)
        ]

    @override
    async def naming(self, people: Collection[str]) -> dict[str, tuple[set[str], set[str]]]:
        return self._dates_and_people(
            {deal for (deal, _), kept in self.kept.items() if set(people_of(kept.document)) & set(people)}
        )

    @override
    async def in_currency(self, currency: str, since: date) -> dict[str, tuple[set[str], set[str]]]:
        return self._dates_and_people(
            {
                deal
                for (deal, _), kept in self.kept.items()
                if kept.document.get("currency") == currency
                and kept.close_day is not None
                and kept.close_day >= since
            }
        )

    def _dates_and_people(self, chosen: set[str]) -> dict[str, tuple[set[str], set[str]]]:
        found: dict[str, tuple[set[str], set[str]]] = {}
        for (deal, _), kept in self.kept.items():
            if deal in chosen:
                days, named = found.setdefault(deal, (set(), set()))
                if kept.document.get("close_date"):
                    days.add(str(kept.document["close_date"]))
                named.update(people_of(kept.document))
        return found

    @override
    async def held(self) -> list[HeldDeal]:
        return [self.held_deals[deal] for deal in sorted(self.held_deals)]

    @override
    async def revision_numbers(
        self,
        deals: Collection[str] | None = None,
        window: tuple[date, date] | None = None,
        people: Collection[str] | None = None,
    ) -> dict[str, list[int]]:
        closing = None
        if window is not None:
            closing = {
                deal
                for (deal, _), kept in self.kept.items()
                if kept.close_day is not None
                and window[0] <= kept.close_day <= window[1]
                and (people is None or set(people_of(kept.document)) & set(people))
            }
        out: dict[str, list[int]] = {}
        for deal, revision in sorted(self.kept):
            if (deals is None or deal in deals) and (closing is None or deal in closing):
                out.setdefault(deal, []).append(revision)
        return out


class MemoryActivities(Activities):
    def __init__(self) -> None:
        self.by_id: dict[str, dict[str, Any]] = {}

    @override
    async def add(self, activity: str, document: dict[str, Any]) -> bool:
        if activity in self.by_id:
            return False
        self.by_id[activity] = copy.deepcopy(document)
        return True

    @override
    async def documents(self) -> list[dict[str, Any]]:
        return copy.deepcopy(list(self.by_id.values()))


class MemoryLedger(Ledger):
    def __init__(self) -> None:
        self.rows: list[LedgerEntry] = []
        # Plans locked (a real lock only matters between replicas; tests may look).
        self.locked: list[str] = []

    @override
    async def lock_plan(self, plan_id: str, *, shared: bool = False) -> None:
        self.locked.append(f"{plan_id} (shared)" if shared else plan_id)

    @override
    async def lock_payees(self, plan_id: str, payees: Collection[str]) -> None:
        self.locked.extend(f"{plan_id}:{payee}" for payee in sorted(payees))

    @override
    async def append(self, *entries: LedgerEntry) -> None:
        self.rows.extend(copy.deepcopy(entry) for entry in entries)

    @override
    async def posted_sums(
        self, plan_id: str, periods: Iterable[str] | None = None, keyed: KeyedRun | None = None
    ) -> dict[PostingKey, Decimal]:
        wanted = None if periods is None else set(periods)
        sums: dict[PostingKey, Decimal] = defaultdict(Decimal)
        for row in self.rows:
            if row.plan != plan_id or (wanted is not None and row.period not in wanted):
                continue
            if keyed is None or keyed.wants(row.payee, row.component, row.deal):
                sums[row.key] += row.amount
        return dict(sums)

    @override
    async def entries(
        self, *, payee: str | None = None, deal: str | None = None, limit: int = 500
    ) -> list[LedgerEntry]:
        matching = [
            row
            for row in self.rows
            if (payee is None or row.payee == payee) and (deal is None or row.deal == deal)
        ]
        return copy.deepcopy(matching[:limit])


class MemoryCalcExceptions(CalcExceptions):
    def __init__(self) -> None:
        self.rows: list[PlanException] = []

    @override
    async def replace(self, plan_id: str, found: list[CalcException], scope: RunScope | None) -> None:
        def dropped(row: PlanException) -> bool:
            if row.plan != plan_id:
                return False
            if scope is None or row.deal in scope.deals:
                return True
            if scope.payees is not None and row.payee not in scope.payees:
                return False
            return row.deal is None and row.period in scope.periods

        self.rows = [row for row in self.rows if not dropped(row)]
        self.rows.extend(PlanException(plan_id, e.kind, e.payee, e.deal, e.detail, e.period) for e in found)

    @override
    async def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for row in self.rows:
            counts[row.kind] += 1
        return dict(counts)

    @override
    async def all(self) -> list[PlanException]:
        return list(self.rows)


class MemoryReferences(References):
    """The version is a digest of the contents: equal contents, equal versions (a version
    is never reused for other contents, as `References.version` asks)."""

    def __init__(self, payees: MemoryPayees, quotas: MemoryQuotas, fx_rates: MemoryFxRates) -> None:
        self.tables = (payees, quotas, fx_rates)

    @override
    async def version(self) -> tuple[int, int]:
        payees, quotas, fx_rates = self.tables
        contents = repr(
            (
                sorted((k, json.dumps(v, sort_keys=True, default=str)) for k, v in payees.by_id.items()),
                sorted(quotas.amounts.items()),
                sorted(fx_rates.rates.items()),
            )
        )
        return (int.from_bytes(hashlib.sha256(contents.encode()).digest()[:8], "big"), 0)


def memory_repositories() -> CalcRepositories:
    """A fresh, empty set of in-memory repositories."""
    payees, quotas, fx_rates = MemoryPayees(), MemoryQuotas(), MemoryFxRates()
    return CalcRepositories(
        plans=MemoryPlans(),
        payees=payees,
        quotas=quotas,
        fx_rates=fx_rates,
        deals=MemoryDeals(),
        activities=MemoryActivities(),
        ledger=MemoryLedger(),
        exceptions=MemoryCalcExceptions(),
        references=MemoryReferences(payees, quotas, fx_rates),
        parsed=ParsedDeals(),
        reference=ReferenceCache(),
    )


CalcStore = FakeStore[CalcRepositories]


def fake_uow(store: CalcStore | None = None) -> FakeUnitOfWork[CalcRepositories]:
    """A fake unit of work of calc-engine (a new empty store unless one is given)."""
    return FakeUnitOfWork(store if store is not None else FakeStore(memory_repositories()), "calc-engine")


# ---------------------------------------------------------------------------- builders

YEAR = 2026  # a past year: contests have ended and every revision is before `as_of` (today)
PLAN = "ae"


def commission(rate: str = "0.10", component: str = "new-business") -> dict[str, Any]:
    return {"id": component, "kind": "commission", "measure": {"metric": "amount"}, "rate": rate}


def plan_version(
    *components: dict[str, Any], version: int = 1, plan_id: str = PLAN, **settings: Any
) -> PlanVersion:
    """A quarterly USD plan for YEAR (a 10% commission unless components are given)."""
    document = {
        "id": plan_id,
        "currency": "USD",
        "period": "quarter",
        "effective": {"from": f"{YEAR}-01-01", "to": f"{YEAR}-12-31"},
        "components": list(components) or [commission()],
        "clawback": {"window_days": 90},
        **settings,
    }
    return PlanVersion(plan_id=plan_id, version=version, document=document, created_at=datetime.now(UTC))


def payee(
    payee_id: str,
    *,
    crm_ids: Iterable[str] = (),
    manager: str | None = None,
    roles: Iterable[str] = ("rep",),
    plans: Iterable[str] = (PLAN,),
) -> PayeeRecord:
    return PayeeRecord(
        id=payee_id,
        name=payee_id,
        manager=manager,
        roles=list(roles),
        crm_ids=list(crm_ids),
        assignments=[PlanAssignment(plan=plan) for plan in plans],
    )


def deal(
    external_id: str,
    *,
    revision: int = 1,
    status: str = "won",
    amount: str = "1000.00",
    currency: str = "USD",
    close: str | None = f"{YEAR}-02-10",
    changed: str | None = None,
    owner: str = "ann",
    splits: Iterable[tuple[str, str]] = (),
) -> DealSnapshot:
    """A generic deal snapshot, changed on `changed` (else its close day) at noon plus
    `revision` minutes, so later revisions are later in history."""
    changed_day = changed or close or f"{YEAR}-01-01"
    return DealSnapshot.model_validate(
        {
            "source": "generic",
            "external_id": external_id,
            "revision": revision,
            "status": status,
            "amount": amount,
            "currency": currency,
            "close_date": close,
            "changed_at": f"{changed_day}T12:{revision % 60:02d}:00Z",
            "owner": owner,
            "splits": [{"payee": p, "share": share} for p, share in splits],
        }
    )


def quota(payee_id: str, period: str, amount: str | None) -> QuotaRecord:
    return QuotaRecord.model_validate({"payee": payee_id, "period": period, "amount": amount})


def fx_rate(day: str, from_currency: str, to_currency: str, rate: str | None) -> FxRateRecord:
    return FxRateRecord.model_validate(
        {"day": day, "from_currency": from_currency, "to_currency": to_currency, "rate": rate}
    )


def activity(
    external_id: str, *, owner: str = "ann", kind: str = "call", day: str = f"{YEAR}-02-10"
) -> ActivityRecord:
    return ActivityRecord.model_validate(
        {
            "source": "generic",
            "external_id": external_id,
            "kind": kind,
            "owner": owner,
            "occurred_at": f"{day}T09:00:00Z",
        }
    )


HANDLERS = consumers()[0].handlers
FINISHER = consumers()[0].finisher


async def consume(store: CalcStore, *records: Schema, consumer: str = "calc-engine") -> list[Envelope]:
    """Apply records as the consumer does with one batch: ONE unit of work, each event
    recorded in the inbox and handled, then one finisher run, then the commit."""
    envelopes = [outgoing(record, "test").envelope for record in records]
    return await consume_envelopes(store, envelopes, consumer=consumer)


async def consume_envelopes(
    store: CalcStore, envelopes: Iterable[Envelope], *, consumer: str = "calc-engine"
) -> list[Envelope]:
    """`consume` for envelopes already built (to deliver one twice)."""
    async with fake_uow(store) as uow:
        applied = []
        for env in envelopes:
            if not await uow.record_inbox(InboxMark(consumer, env.id, "t", 0, 0)):
                continue
            schema = schema_of(env.type)
            assert schema is not None
            await HANDLERS[schema](uow, schema.model_validate(env.data))
            applied.append(env)
        if applied and FINISHER is not None:
            await FINISHER(uow, applied)
        await uow.commit()
        return applied


async def consume_each(store: CalcStore, *records: Schema) -> None:
    """Apply records one unit of work each (a batch size of one)."""
    for record in records:
        await consume(store, record)


def ledger_rows(store: CalcStore) -> list[LedgerEntry]:
    ledger = store.repos.ledger
    assert isinstance(ledger, MemoryLedger)
    return list(ledger.rows)


def plan_locks(repos: CalcRepositories) -> list[str]:
    """The plans whose ledger lock was taken, in order (the fake only records them)."""
    assert isinstance(repos.ledger, MemoryLedger)
    return list(repos.ledger.locked)


def ledger_total(store: CalcStore, *, payee: str | None = None, deal: str | None = None) -> Decimal:
    return sum(
        (
            row.amount
            for row in ledger_rows(store)
            if (payee is None or row.payee == payee) and (deal is None or row.deal == deal)
        ),
        Decimal(0),
    )


def published(store: CalcStore, event_type: str) -> list[Envelope]:
    return [env for env in store.published() if env.type == event_type]


def drift(store: CalcStore, period: str, day: str, amount: str, *, payee_id: str = "ann") -> None:
    """Put an entry in the committed ledger that no input explains (as if it had drifted)."""
    ledger = store.repos.ledger
    assert isinstance(ledger, MemoryLedger)
    ledger.rows.append(
        LedgerEntry(
            entry_id=f"drift-{period}-{len(ledger.rows)}",
            payee=payee_id,
            plan=PLAN,
            plan_version=1,
            component="new-business",
            period=period,
            entry_date=date.fromisoformat(day),
            pay_period=day[:7],
            amount=Decimal(amount),
            currency="USD",
            cash=True,
            deal=None,
            cause_event="drift",
            explanation={},
            posted_at=datetime.now(UTC),
        )
    )


def tiered(
    *bands: tuple[str | None, str],
    method: str = "retroactive",
    basis: str = "attainment",
    component: str = "new-business",
    **extra: Any,
) -> dict[str, Any]:
    """A tiered commission on amount: `bands` as (to or None for the open top band, rate)."""
    rows = [{"rate": rate} if to is None else {"to": to, "rate": rate} for to, rate in bands]
    return {
        "id": component,
        "kind": "commission",
        "measure": {"metric": "amount"},
        "tiers": {"basis": basis, "method": method, "bands": rows},
        **extra,
    }


class ReadOnlyUnitOfWork(FakeUnitOfWork[CalcRepositories]):
    """A fake unit of work that fails the test if a use case commits or publishes through it."""

    @override
    async def _commit(self) -> None:
        raise AssertionError("a read-only use case committed")

    @override
    async def enqueue(self, topic: str, key: str, payload: bytes, event_id: str) -> None:
        raise AssertionError(f"a read-only use case published on {topic}")

    @override
    async def _audit(self, record: AuditRecord) -> None:
        raise AssertionError(f"a read-only use case audited {record.action}")


def read_only_uow(store: CalcStore) -> ReadOnlyUnitOfWork:
    """The unit of work of a query: never committed, never published through."""
    return ReadOnlyUnitOfWork(store, "calc-engine")
