"""payout-service repositories: the ports, their SQL implementations, and the bundle a unit
of work carries as `uow.repos`. The in-memory fakes (`tests/payout_fakes.py`) pass the same
conformance suite."""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
import sqlalchemy.exc as sa_exc
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from typing_extensions import override

from payout_service.adapters.tables import (
    ack_requests,
    adjustments,
    batch_approval_seq,
    batch_lines,
    batches,
    closed_pay_periods,
    closed_statements,
    deal_terms,
    dispute_messages,
    disputes,
    ledger_entries,
    line_entries,
    payees,
    plan_versions,
)
from payout_service.domain.accounting import DealTerms
from payout_service.domain.adjustments import Adjustment
from payout_service.domain.batches import LIVE, AckRecord, Batch, BatchLine
from payout_service.domain.disputes import Dispute, DisputeMessage
from payout_service.domain.errors import Conflict
from payout_service.domain.payees import Assignment, Payee
from payout_service.domain.periods import ClosedPayPeriod
from payout_service.domain.plans import PlanVersionDoc
from payout_service.domain.statements import LedgerEntry, StatementRow

_ENTRY_FIELDS = tuple(f.name for f in fields(LedgerEntry))
_ROW_FIELDS = tuple(f.name for f in fields(StatementRow) if f.name not in ("status", "balances"))
_ADJUSTMENT_FIELDS = tuple(f.name for f in fields(Adjustment))
_BATCH_FIELDS = tuple(f.name for f in fields(Batch))
_LINE_FIELDS = tuple(f.name for f in fields(BatchLine))
_DISPUTE_FIELDS = tuple(f.name for f in fields(Dispute))
_MESSAGE_FIELDS = tuple(f.name for f in fields(DisputeMessage))


# ---------------------------------------------------------------- ports


class LedgerEntries(ABC):
    """The ledger replica: append-only, one row per `entry_id`."""

    @abstractmethod
    async def add(self, entry: LedgerEntry) -> bool:
        """Store an entry; False (and nothing changed) if its `entry_id` is already stored."""

    @abstractmethod
    async def by_payee(self, payee: str) -> list[LedgerEntry]:
        """Every entry of a payee, by entry date then entry id."""

    @abstractmethod
    async def by_payee_and_pay_period(self, payee: str, pay_period: str) -> list[LedgerEntry]:
        """The entries a payee is paid in one pay period (`paid_in`: its own, or the one a
        late entry landed in), by entry date then entry id."""

    @abstractmethod
    async def payees(self) -> set[str]:
        """Every payee with an entry."""

    @abstractmethod
    async def pay_periods(self) -> set[str]:
        """Every pay period an entry is dated or paid in."""

    @abstractmethod
    async def dated_through(self, day: date) -> list[LedgerEntry]:
        """Every entry dated on or before `day` (any payee), by entry date then entry id."""

    @abstractmethod
    async def by_deal(self, deal: str) -> list[LedgerEntry]:
        """Every entry of one deal (any payee), by entry date then entry id."""


class Payees(ABC):
    """The payee replica (compacted `payees.v1`: the last record wins)."""

    @abstractmethod
    async def upsert(self, payee: Payee) -> None:
        """Insert the payee or replace it."""

    @abstractmethod
    async def get(self, payee_id: str) -> Payee | None:
        """One payee by id."""

    @abstractmethod
    async def all(self) -> list[Payee]:
        """Every payee, by id."""

    @abstractmethod
    async def managers(self) -> dict[str, str | None]:
        """Every known payee's manager (None at the top): the map access checks walk."""


class PlanVersions(ABC):
    """The plan replica: every version of every plan (`plans.v1`)."""

    @abstractmethod
    async def add(self, doc: PlanVersionDoc) -> bool:
        """Store a version; False (the first copy stays) if it is already stored."""

    @abstractmethod
    async def latest(self) -> dict[str, PlanVersionDoc]:
        """Each plan's latest version, by plan id."""

    @abstractmethod
    async def get(self, plan_id: str, version: int) -> PlanVersionDoc | None:
        """One version of one plan."""


class Deals(ABC):
    """Each deal's contract terms from its latest snapshot in history (`deals.v1`)."""

    @abstractmethod
    async def get(self, deal: str, *, for_update: bool = False) -> DealTerms | None:
        """One deal's terms; `for_update` holds them until the transaction ends."""

    @abstractmethod
    async def put(self, terms: DealTerms) -> None:
        """Insert or replace a deal's terms."""

    @abstractmethod
    async def many(self, deals: Iterable[str]) -> dict[str, DealTerms]:
        """The terms of these deals (those known), by deal."""


class PayPeriods(ABC):
    """Closed pay periods and the statements frozen when they closed."""

    @abstractmethod
    async def lock(self, *, exclusive: bool) -> None:
        """Until the transaction ends: exclusive for a close; shared for what must land in
        an open pay period (a consumed entry, an approved adjustment)."""

    @abstractmethod
    async def closed(self) -> list[ClosedPayPeriod]:
        """Every closed pay period, by pay period."""

    @abstractmethod
    async def close(self, closed: ClosedPayPeriod, rows: Sequence[StatementRow]) -> None:
        """Record a close and the rows it froze."""

    @abstractmethod
    async def frozen(self, payee: str) -> list[StatementRow]:
        """A payee's frozen rows, by pay period and currency."""

    @abstractmethod
    async def frozen_in(self, pay_period: str) -> list[StatementRow]:
        """The rows one close froze, by payee and currency."""


class Adjustments(ABC):
    """Manual adjustments."""

    @abstractmethod
    async def add(self, adjustment: Adjustment) -> None:
        """Store a new adjustment."""

    @abstractmethod
    async def get(self, adjustment_id: str) -> Adjustment | None:
        """One adjustment."""

    @abstractmethod
    async def save(self, adjustment: Adjustment) -> None:
        """Store a decision (status, who, when, where it landed)."""

    @abstractmethod
    async def find(self, payee: str | None = None, status: str | None = None) -> list[Adjustment]:
        """Adjustments of a payee and/or in a status, by creation time then id."""


class Disputes(ABC):
    """Disputes and their threads."""

    @abstractmethod
    async def add(self, dispute: Dispute) -> None:
        """Store a new dispute."""

    @abstractmethod
    async def get(self, dispute_id: str, *, for_update: bool = False) -> Dispute | None:
        """One dispute; `for_update` holds it until the transaction ends (a change to it
        or to its thread)."""

    @abstractmethod
    async def save(self, dispute: Dispute) -> None:
        """Store a dispute's new state (status, outcome, who, when, adjustment, reopens)."""

    @abstractmethod
    async def find(self, payees: Collection[str] | None = None, status: str | None = None) -> list[Dispute]:
        """Disputes of these payees (None: everyone's) and/or in a status, by opening
        time then id."""

    @abstractmethod
    async def add_message(self, message: DisputeMessage) -> None:
        """Append to a dispute's thread; Conflict if its position is taken."""

    @abstractmethod
    async def thread(self, dispute_id: str) -> list[DisputeMessage]:
        """A dispute's thread, by position."""

    @abstractmethod
    async def open_summary(self) -> tuple[int, datetime | None]:
        """How many disputes are open, and since when the oldest open one is."""


class Batches(ABC):
    """Payout batches, their lines, and payroll's acknowledgements."""

    @abstractmethod
    async def lock(self, name: str) -> None:
        """Serialize on `name` until the transaction ends (builds; approvals; one batch)."""

    @abstractmethod
    async def add(self, batch: Batch, lines: Sequence[BatchLine]) -> None:
        """Store a new batch and its lines; Conflict if an entry of a pending or paid line
        is already in another such line, or a line is carried twice."""

    @abstractmethod
    async def get(self, batch_id: str) -> Batch | None:
        """One batch."""

    @abstractmethod
    async def save(self, batch: Batch) -> None:
        """Store a batch's new status and stamps."""

    @abstractmethod
    async def save_lines(self, lines: Sequence[BatchLine]) -> None:
        """Store lines' new status, payroll reference, reason and settlement time."""

    @abstractmethod
    async def lines(self, batch_ids: Iterable[str]) -> dict[str, list[BatchLine]]:
        """The lines of these batches, in their order, by batch id."""

    @abstractmethod
    async def lines_of_payee(self, payee: str) -> list[BatchLine]:
        """Every line of a payee (any batch, any status)."""

    @abstractmethod
    async def carryable(self, currency: str | None = None) -> list[BatchLine]:
        """Rejected and held-back lines (in a currency) not yet carried into a batch that is
        not cancelled, oldest first."""

    @abstractmethod
    async def for_pay_period(self, pay_period: str, currency: str) -> Batch | None:
        """The batch of a pay period and currency that is not cancelled, if any."""

    @abstractmethod
    async def find(self, status: str | None = None) -> list[Batch]:
        """Batches (in a status), newest built first."""

    @abstractmethod
    async def approved_after(self, statuses: Sequence[str], after: int, limit: int) -> list[Batch]:
        """Approved batches (now in one of `statuses`) after an approval position, in
        approval order."""

    @abstractmethod
    async def next_approval_seq(self) -> int:
        """The next approval position (call under the approvals lock)."""

    @abstractmethod
    async def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """How many batches and how many lines are in each status."""

    @abstractmethod
    async def oldest_unsettled_approval(self) -> datetime | None:
        """When the oldest approved batch payroll has not settled was approved."""

    @abstractmethod
    async def ack(self, key: str) -> AckRecord | None:
        """The acknowledgement first answered under an Idempotency-Key."""

    @abstractmethod
    async def add_ack(self, record: AckRecord) -> None:
        """Remember an acknowledgement's answer under its key."""


@dataclass
class PayoutRepositories:
    """What `uow.repos` holds in payout-service."""

    ledger: LedgerEntries
    payees: Payees
    plans: PlanVersions
    pay_periods: PayPeriods
    adjustments: Adjustments
    disputes: Disputes
    batches: Batches
    deals: Deals


# ---------------------------------------------------------------- SQL


async def _advisory_lock(session: AsyncSession, name: str, *, shared: bool = False) -> None:
    key = zlib.crc32(f"payout-service:{name}".encode())
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    await session.execute(sa.select(getattr(sa.func, function)(key)))


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(**{name: row[name] for name in _ENTRY_FIELDS})


class SqlLedgerEntries(LedgerEntries):
    """The ledger replica in the `ledger_entries` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def add(self, entry: LedgerEntry) -> bool:
        values = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
        stored = await self.session.execute(
            insert(ledger_entries)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(ledger_entries.c.entry_id)
        )
        return stored.first() is not None

    async def _select(self, *where: sa.ColumnElement[bool]) -> list[LedgerEntry]:
        query = (
            sa.select(ledger_entries)
            .where(*where)
            .order_by(ledger_entries.c.entry_date, ledger_entries.c.entry_id)
        )
        return [_entry(r._mapping) for r in (await self.session.execute(query)).all()]

    @override
    async def by_payee(self, payee: str) -> list[LedgerEntry]:
        return await self._select(ledger_entries.c.payee == payee)

    @override
    async def by_payee_and_pay_period(self, payee: str, pay_period: str) -> list[LedgerEntry]:
        paid_in = sa.func.coalesce(ledger_entries.c.landed_in, ledger_entries.c.pay_period)
        return await self._select(ledger_entries.c.payee == payee, paid_in == pay_period)

    @override
    async def payees(self) -> set[str]:
        rows = await self.session.execute(sa.select(ledger_entries.c.payee).distinct())
        return {r[0] for r in rows.all()}

    @override
    async def pay_periods(self) -> set[str]:
        dated = sa.select(ledger_entries.c.pay_period).distinct()
        landed = (
            sa.select(ledger_entries.c.landed_in).where(ledger_entries.c.landed_in.is_not(None)).distinct()
        )
        rows = await self.session.execute(sa.union(dated, landed))
        return {r[0] for r in rows.all()}

    @override
    async def dated_through(self, day: date) -> list[LedgerEntry]:
        return await self._select(ledger_entries.c.entry_date <= day)

    @override
    async def by_deal(self, deal: str) -> list[LedgerEntry]:
        return await self._select(ledger_entries.c.deal == deal)


def _payee(row: Any) -> Payee:
    assignments = tuple(
        Assignment(
            plan=a["plan"],
            valid_from=date.fromisoformat(a["valid_from"]) if a.get("valid_from") else None,
            valid_to=date.fromisoformat(a["valid_to"]) if a.get("valid_to") else None,
        )
        for a in row.assignments
    )
    return Payee(row.id, row.name, row.manager, row.payroll_id, assignments)


class SqlPayees(Payees):
    """The payee replica in the `payees` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def upsert(self, payee: Payee) -> None:
        values = {
            "manager": payee.manager,
            "name": payee.name,
            "payroll_id": payee.payroll_id,
            "assignments": [
                {
                    "plan": a.plan,
                    "valid_from": a.valid_from.isoformat() if a.valid_from else None,
                    "valid_to": a.valid_to.isoformat() if a.valid_to else None,
                }
                for a in payee.assignments
            ],
        }
        await self.session.execute(
            insert(payees)
            .values(id=payee.id, **values)
            .on_conflict_do_update(index_elements=[payees.c.id], set_=values)
        )

    @override
    async def get(self, payee_id: str) -> Payee | None:
        row = (await self.session.execute(sa.select(payees).where(payees.c.id == payee_id))).first()
        return None if row is None else _payee(row)

    @override
    async def all(self) -> list[Payee]:
        rows = await self.session.execute(sa.select(payees).order_by(payees.c.id))
        return [_payee(r) for r in rows.all()]

    @override
    async def managers(self) -> dict[str, str | None]:
        rows = (await self.session.execute(sa.select(payees.c.id, payees.c.manager))).all()
        return {r.id: r.manager for r in rows}


def _terms(row: Any) -> DealTerms:
    return DealTerms(
        deal=row.deal,
        contract_months=row.contract_months,
        contract_start=row.contract_start,
        close_date=None if row.close_date is None else _day_or_instant(row.close_date),
        changed_at=row.changed_at,
        content=row.content,
    )


def _day_or_instant(text: str) -> date | datetime:
    return date.fromisoformat(text) if len(text) <= 10 else datetime.fromisoformat(text)


class SqlDeals(Deals):
    """Deal terms in the `deal_terms` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def get(self, deal: str, *, for_update: bool = False) -> DealTerms | None:
        query = sa.select(deal_terms).where(deal_terms.c.deal == deal)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return None if row is None else _terms(row)

    @override
    async def put(self, terms: DealTerms) -> None:
        values = {
            "contract_months": terms.contract_months,
            "contract_start": terms.contract_start,
            "close_date": None if terms.close_date is None else terms.close_date.isoformat(),
            "changed_at": terms.changed_at,
            "content": terms.content,
        }
        await self.session.execute(
            insert(deal_terms)
            .values(deal=terms.deal, **values)
            .on_conflict_do_update(index_elements=[deal_terms.c.deal], set_=values)
        )

    @override
    async def many(self, deals: Iterable[str]) -> dict[str, DealTerms]:
        wanted = sorted(set(deals))
        found: dict[str, DealTerms] = {}
        for start in range(0, len(wanted), 1000):
            query = sa.select(deal_terms).where(deal_terms.c.deal.in_(wanted[start : start + 1000]))
            found |= {r.deal: _terms(r) for r in (await self.session.execute(query)).all()}
        return found


def _plan(row: Any) -> PlanVersionDoc:
    return PlanVersionDoc(row.plan_id, row.version, row.document, row.created_at)


class SqlPlanVersions(PlanVersions):
    """The plan replica in the `plan_versions` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def add(self, doc: PlanVersionDoc) -> bool:
        stored = await self.session.execute(
            insert(plan_versions)
            .values(
                plan_id=doc.plan_id,
                version=doc.version,
                document=dict(doc.document),
                created_at=doc.created_at,
            )
            .on_conflict_do_nothing()
            .returning(plan_versions.c.version)
        )
        return stored.first() is not None

    @override
    async def latest(self) -> dict[str, PlanVersionDoc]:
        newest = (
            sa.select(plan_versions.c.plan_id, sa.func.max(plan_versions.c.version).label("version"))
            .group_by(plan_versions.c.plan_id)
            .subquery()
        )
        query = sa.select(plan_versions).join(
            newest,
            sa.and_(plan_versions.c.plan_id == newest.c.plan_id, plan_versions.c.version == newest.c.version),
        )
        return {r.plan_id: _plan(r) for r in (await self.session.execute(query)).all()}

    @override
    async def get(self, plan_id: str, version: int) -> PlanVersionDoc | None:
        query = sa.select(plan_versions).where(
            plan_versions.c.plan_id == plan_id, plan_versions.c.version == version
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else _plan(row)


def _row(row: Any) -> StatementRow:
    return StatementRow(
        **{name: row[name] for name in _ROW_FIELDS},
        status="closed",
        balances={plan: Decimal(value) for plan, value in row["balances"].items()},
    )


class SqlPayPeriods(PayPeriods):
    """Closes in `closed_pay_periods`, their frozen rows in `closed_statements`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def lock(self, *, exclusive: bool) -> None:
        await _advisory_lock(self.session, "pay-periods", shared=not exclusive)

    @override
    async def closed(self) -> list[ClosedPayPeriod]:
        rows = await self.session.execute(
            sa.select(closed_pay_periods).order_by(closed_pay_periods.c.pay_period)
        )
        return [ClosedPayPeriod(r.pay_period, r.closed_at, r.closed_by, r.statements) for r in rows.all()]

    @override
    async def close(self, closed: ClosedPayPeriod, rows: Sequence[StatementRow]) -> None:
        await self.session.execute(
            closed_pay_periods.insert().values(
                pay_period=closed.pay_period,
                closed_at=closed.closed_at,
                closed_by=closed.closed_by,
                statements=closed.statements,
            )
        )
        if rows:
            await self.session.execute(
                closed_statements.insert(),
                [
                    {
                        **{name: getattr(r, name) for name in _ROW_FIELDS},
                        "balances": {plan: format(b, "f") for plan, b in r.balances.items()},
                    }
                    for r in rows
                ],
            )

    async def _select(self, *where: sa.ColumnElement[bool]) -> list[StatementRow]:
        query = (
            sa.select(closed_statements)
            .where(*where)
            .order_by(closed_statements.c.pay_period, closed_statements.c.payee, closed_statements.c.currency)
        )
        return [_row(r._mapping) for r in (await self.session.execute(query)).all()]

    @override
    async def frozen(self, payee: str) -> list[StatementRow]:
        return await self._select(closed_statements.c.payee == payee)

    @override
    async def frozen_in(self, pay_period: str) -> list[StatementRow]:
        return await self._select(closed_statements.c.pay_period == pay_period)


def _adjustment(row: Any) -> Adjustment:
    return Adjustment(**{name: row[name] for name in _ADJUSTMENT_FIELDS})


class SqlAdjustments(Adjustments):
    """Adjustments in the `adjustments` table."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def add(self, adjustment: Adjustment) -> None:
        await self.session.execute(
            adjustments.insert().values(**{name: getattr(adjustment, name) for name in _ADJUSTMENT_FIELDS})
        )

    @override
    async def get(self, adjustment_id: str) -> Adjustment | None:
        row = (
            await self.session.execute(sa.select(adjustments).where(adjustments.c.id == adjustment_id))
        ).first()
        return None if row is None else _adjustment(row._mapping)

    @override
    async def save(self, adjustment: Adjustment) -> None:
        values = {name: getattr(adjustment, name) for name in _ADJUSTMENT_FIELDS if name != "id"}
        await self.session.execute(
            adjustments.update().where(adjustments.c.id == adjustment.id).values(**values)
        )

    @override
    async def find(self, payee: str | None = None, status: str | None = None) -> list[Adjustment]:
        query = sa.select(adjustments).order_by(adjustments.c.created_at, adjustments.c.id)
        if payee is not None:
            query = query.where(adjustments.c.payee == payee)
        if status is not None:
            query = query.where(adjustments.c.status == status)
        return [_adjustment(r._mapping) for r in (await self.session.execute(query)).all()]


def _dispute(row: Any) -> Dispute:
    return Dispute(**{name: row[name] for name in _DISPUTE_FIELDS})


class SqlDisputes(Disputes):
    """Disputes in `disputes`, their threads in `dispute_messages`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def add(self, dispute: Dispute) -> None:
        await self.session.execute(
            disputes.insert().values(**{name: getattr(dispute, name) for name in _DISPUTE_FIELDS})
        )

    @override
    async def get(self, dispute_id: str, *, for_update: bool = False) -> Dispute | None:
        query = sa.select(disputes).where(disputes.c.id == dispute_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return None if row is None else _dispute(row._mapping)

    @override
    async def save(self, dispute: Dispute) -> None:
        values = {name: getattr(dispute, name) for name in _DISPUTE_FIELDS if name != "id"}
        await self.session.execute(disputes.update().where(disputes.c.id == dispute.id).values(**values))

    @override
    async def find(self, payees: Collection[str] | None = None, status: str | None = None) -> list[Dispute]:
        query = sa.select(disputes).order_by(disputes.c.opened_at, disputes.c.id)
        if payees is not None:
            query = query.where(disputes.c.payee.in_(list(payees)))
        if status is not None:
            query = query.where(disputes.c.status == status)
        return [_dispute(r._mapping) for r in (await self.session.execute(query)).all()]

    @override
    async def add_message(self, message: DisputeMessage) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    dispute_messages.insert().values(
                        **{name: getattr(message, name) for name in _MESSAGE_FIELDS}
                    )
                )
        except sa_exc.IntegrityError as exc:
            raise Conflict(
                f"dispute {message.dispute_id} already has message {message.position}: {exc.orig}"
            ) from exc

    @override
    async def thread(self, dispute_id: str) -> list[DisputeMessage]:
        query = (
            sa.select(dispute_messages)
            .where(dispute_messages.c.dispute_id == dispute_id)
            .order_by(dispute_messages.c.position)
        )
        return [
            DisputeMessage(**{name: r._mapping[name] for name in _MESSAGE_FIELDS})
            for r in (await self.session.execute(query)).all()
        ]

    @override
    async def open_summary(self) -> tuple[int, datetime | None]:
        since = sa.func.coalesce(disputes.c.reopened_at, disputes.c.opened_at)
        query = sa.select(sa.func.count(), sa.func.min(since)).where(disputes.c.status == "open")
        count, oldest = (await self.session.execute(query)).one()
        return int(count), oldest


def _batch(row: Any) -> Batch:
    return Batch(**{name: row[name] for name in _BATCH_FIELDS})


def _line(row: Any) -> BatchLine:
    values = {name: row[name] for name in _LINE_FIELDS}
    values["entry_ids"] = tuple(values["entry_ids"])
    values["adjustment_ids"] = tuple(values["adjustment_ids"])
    return BatchLine(**values)


class SqlBatches(Batches):
    """Batches in `batches`, lines in `batch_lines` (entries in `line_entries`), answers
    to acknowledgements in `ack_requests`."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @override
    async def lock(self, name: str) -> None:
        await _advisory_lock(self.session, f"batches:{name}")

    @override
    async def add(self, batch: Batch, lines: Sequence[BatchLine]) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    batches.insert().values(**{name: getattr(batch, name) for name in _BATCH_FIELDS})
                )
                if not lines:
                    return
                await self.session.execute(
                    batch_lines.insert(),
                    [
                        {**{name: getattr(line, name) for name in _LINE_FIELDS}, "position": n}
                        for n, line in enumerate(lines)
                    ],
                )
                links = [
                    {"line_id": line.id, "entry_id": entry_id, "live": line.status in LIVE}
                    for line in lines
                    for entry_id in line.entry_ids
                ]
                if links:
                    await self.session.execute(line_entries.insert(), links)
        except sa_exc.IntegrityError as exc:
            raise Conflict(f"batch {batch.id} overlaps a batch that is not cancelled: {exc.orig}") from exc

    @override
    async def get(self, batch_id: str) -> Batch | None:
        row = (await self.session.execute(sa.select(batches).where(batches.c.id == batch_id))).first()
        return None if row is None else _batch(row._mapping)

    @override
    async def save(self, batch: Batch) -> None:
        values = {name: getattr(batch, name) for name in _BATCH_FIELDS if name != "id"}
        await self.session.execute(batches.update().where(batches.c.id == batch.id).values(**values))

    @override
    async def save_lines(self, lines: Sequence[BatchLine]) -> None:
        for line in lines:
            await self.session.execute(
                batch_lines.update()
                .where(batch_lines.c.id == line.id)
                .values(
                    status=line.status,
                    payroll_ref=line.payroll_ref,
                    reason=line.reason,
                    settled_at=line.settled_at,
                )
            )
            await self.session.execute(
                line_entries.update()
                .where(line_entries.c.line_id == line.id)
                .values(live=line.status in LIVE)
            )

    async def _lines(self, *where: sa.ColumnElement[bool]) -> list[BatchLine]:
        query = sa.select(batch_lines).where(*where).order_by(batch_lines.c.batch_id, batch_lines.c.position)
        return [_line(r._mapping) for r in (await self.session.execute(query)).all()]

    @override
    async def lines(self, batch_ids: Iterable[str]) -> dict[str, list[BatchLine]]:
        ids = list(batch_ids)
        found: dict[str, list[BatchLine]] = {batch_id: [] for batch_id in ids}
        for line in await self._lines(batch_lines.c.batch_id.in_(ids)):
            found[line.batch_id].append(line)
        return found

    @override
    async def lines_of_payee(self, payee: str) -> list[BatchLine]:
        return await self._lines(batch_lines.c.payee == payee)

    @override
    async def carryable(self, currency: str | None = None) -> list[BatchLine]:
        successor = batch_lines.alias("successor")
        carried = (
            sa.select(successor.c.id)
            .where(successor.c.carried_from == batch_lines.c.id, successor.c.status != "cancelled")
            .exists()
        )
        query = (
            sa.select(batch_lines)
            .join(batches, batches.c.id == batch_lines.c.batch_id)
            .where(batch_lines.c.status.in_(("rejected", "exception")), ~carried)
            .order_by(batches.c.built_at, batches.c.id, batch_lines.c.position)
        )
        if currency is not None:
            query = query.where(batch_lines.c.currency == currency)
        return [_line(r._mapping) for r in (await self.session.execute(query)).all()]

    @override
    async def for_pay_period(self, pay_period: str, currency: str) -> Batch | None:
        query = sa.select(batches).where(
            batches.c.pay_period == pay_period,
            batches.c.currency == currency,
            batches.c.status != "cancelled",
        )
        row = (await self.session.execute(query)).first()
        return None if row is None else _batch(row._mapping)

    @override
    async def find(self, status: str | None = None) -> list[Batch]:
        query = sa.select(batches).order_by(batches.c.built_at.desc(), batches.c.id.desc())
        if status is not None:
            query = query.where(batches.c.status == status)
        return [_batch(r._mapping) for r in (await self.session.execute(query)).all()]

    @override
    async def approved_after(self, statuses: Sequence[str], after: int, limit: int) -> list[Batch]:
        query = (
            sa.select(batches)
            .where(
                batches.c.approval_seq.is_not(None),
                batches.c.approval_seq > after,
                batches.c.status.in_(list(statuses)),
            )
            .order_by(batches.c.approval_seq)
            .limit(limit)
        )
        return [_batch(r._mapping) for r in (await self.session.execute(query)).all()]

    @override
    async def next_approval_seq(self) -> int:
        value = await self.session.execute(sa.select(batch_approval_seq.next_value()))
        return int(value.scalar_one())

    @override
    async def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        batch_rows = await self.session.execute(
            sa.select(batches.c.status, sa.func.count()).group_by(batches.c.status)
        )
        line_rows = await self.session.execute(
            sa.select(batch_lines.c.status, sa.func.count()).group_by(batch_lines.c.status)
        )
        return {r[0]: r[1] for r in batch_rows.all()}, {r[0]: r[1] for r in line_rows.all()}

    @override
    async def oldest_unsettled_approval(self) -> datetime | None:
        query = sa.select(sa.func.min(batches.c.approved_at)).where(batches.c.status == "approved")
        value: datetime | None = (await self.session.execute(query)).scalar_one()
        return value

    @override
    async def ack(self, key: str) -> AckRecord | None:
        row = (await self.session.execute(sa.select(ack_requests).where(ack_requests.c.key == key))).first()
        if row is None:
            return None
        return AckRecord(row.key, row.batch_id, row.fingerprint, dict(row.response), row.created_at)

    @override
    async def add_ack(self, record: AckRecord) -> None:
        await self.session.execute(
            ack_requests.insert().values(
                key=record.key,
                batch_id=record.batch_id,
                fingerprint=record.fingerprint,
                response=record.response,
                created_at=record.created_at,
            )
        )


def sql_repositories(session: AsyncSession) -> PayoutRepositories:
    """The repositories on one session (the unit of work's)."""
    return PayoutRepositories(
        ledger=SqlLedgerEntries(session),
        payees=SqlPayees(session),
        plans=SqlPlanVersions(session),
        pay_periods=SqlPayPeriods(session),
        adjustments=SqlAdjustments(session),
        disputes=SqlDisputes(session),
        batches=SqlBatches(session),
        deals=SqlDeals(session),
    )
