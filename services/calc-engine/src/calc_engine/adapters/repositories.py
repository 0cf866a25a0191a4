"""calc-engine's repositories: the ports (what the service layer may ask of its database)
and their SQL implementations on the tables of `adapters.tables`.

The statements are those the handlers ran before they moved behind these ports: the same
upserts, the same row lock on a held deal, the same per-plan advisory lock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from calc_engine.adapters.tables import (
    activities,
    calc_exceptions,
    deal_revisions,
    deals,
    fx_rates,
    ledger,
    payees,
    plans,
    quotas,
    reference_version,
)
from calc_engine.domain.keyed import KeyedRun, people_of
from calc_engine.domain.ledger import ENGINE_DATE, LedgerEntry, PostingKey
from calc_engine.domain.model import HeldDeal, PlanException, RunScope, StoredPlan
from provisio_calc import CalcException, FxRate, Quota

if TYPE_CHECKING:
    from calc_engine.adapters.parsed_deals import ParsedDeals
    from calc_engine.adapters.reference_data import ReferenceCache

# ---------------------------------------------------------------------------- ports


class Plans(ABC):
    """Replicated plan versions (`plans.v1`)."""

    @abstractmethod
    async def add(self, plan: StoredPlan) -> None:
        """Keep a version; a version already held is left as it is."""

    @abstractmethod
    async def latest(self, plan_id: str) -> StoredPlan | None:
        """The highest version of a plan, if any."""

    @abstractmethod
    async def versions(self, plan_id: str) -> list[StoredPlan]:
        """Every held version of a plan, oldest (lowest number) first."""

    @abstractmethod
    async def ids(self) -> list[str]:
        """Every plan with at least one version."""


class Payees(ABC):
    """Replicated payees (`payees.v1`), as their documents."""

    @abstractmethod
    async def put(self, payee_id: str, document: dict[str, Any]) -> None:
        """Insert or replace a payee's document."""

    @abstractmethod
    async def documents(self) -> dict[str, dict[str, Any]]:
        """Every payee's document, by payee id."""


class Quotas(ABC):
    """Replicated quotas (`quotas.v1`)."""

    @abstractmethod
    async def put(self, payee: str, period: str, amount: Decimal) -> None:
        """Insert or replace a payee's quota for a period."""

    @abstractmethod
    async def remove(self, payee: str, period: str) -> None:
        """Forget a payee's quota for a period (no-op if absent)."""

    @abstractmethod
    async def all(self) -> list[Quota]:
        """Every quota held."""


class FxRates(ABC):
    """Replicated fx rates (`fxrates.v1`)."""

    @abstractmethod
    async def put(self, rate: FxRate) -> None:
        """Insert or replace the rate of (day, from, to)."""

    @abstractmethod
    async def remove(self, day: date, from_currency: str, to_currency: str) -> None:
        """Forget the rate of (day, from, to) (no-op if absent)."""

    @abstractmethod
    async def all(self) -> list[FxRate]:
        """Every rate held."""


class References(ABC):
    """Which state of the replicated payees, quotas and fx rates is committed."""

    @abstractmethod
    async def version(self) -> tuple[int, int]:
        """A version that changes with every write to payees, quotas or fx rates (in the
        writing transaction) and is never reused for other contents, even after a
        rollback: equal versions, equal reference data (`adapters.reference_data`)."""


class Deals(ABC):
    """The revision held per deal, and every revision received (with its close day)."""

    @abstractmethod
    async def held_revision(self, deal: str) -> int | None:
        """The revision held for a deal, locking it until the transaction ends."""

    @abstractmethod
    async def hold(self, deal: str, revision: int, status: str) -> None:
        """Make `revision` (with its status) the one held for the deal."""

    @abstractmethod
    async def add_revision(
        self, deal: str, revision: int, document: dict[str, Any], close_day: date | None
    ) -> None:
        """Keep one revision's snapshot; a revision already kept is left as it is."""

    @abstractmethod
    async def revision(self, deal: str, revision: int) -> dict[str, Any] | None:
        """The snapshot of one revision of a deal, if kept."""

    @abstractmethod
    async def history(self, deal: str) -> list[dict[str, Any]]:
        """Every kept revision's snapshot of one deal (any order)."""

    @abstractmethod
    async def held_snapshots(self) -> list[dict[str, Any]]:
        """The snapshot of the held revision of every deal."""

    @abstractmethod
    async def revisions(
        self, window: tuple[date, date] | None = None, deals: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        """Every kept revision; with `window`, only those of deals that have a revision
        whose close day lies inside it (inclusive); with `deals`, only those deals'."""

    @abstractmethod
    async def naming(self, people: Collection[str]) -> dict[str, tuple[set[str], set[str]]]:
        """The deals with a revision naming one of these references as owner or split
        payee, each with the close dates (as sent) and the people of all its revisions."""

    @abstractmethod
    async def in_currency(self, currency: str, since: date) -> dict[str, tuple[set[str], set[str]]]:
        """The deals with a revision in `currency` closing on or after `since` (the close
        day as sent), each with the close dates and the people (`naming`'s references) of
        all its revisions."""

    @abstractmethod
    async def held(self) -> list[HeldDeal]:
        """Every deal with its held revision and status, by deal."""

    @abstractmethod
    async def revision_numbers(
        self,
        deals: Collection[str] | None = None,
        window: tuple[date, date] | None = None,
        people: Collection[str] | None = None,
    ) -> dict[str, list[int]]:
        """Every deal (or those of `deals`; with `window`, those with a revision whose close
        day lies inside it; with `people` too, a revision closing inside it that names one
        of these references as owner or split payee, `domain.keyed.people_of`) and the
        numbers of the revisions of it held, ascending."""


class Activities(ABC):
    """Replicated activities (`activities.v1`), once per `source:external_id`."""

    @abstractmethod
    async def add(self, activity: str, document: dict[str, Any]) -> bool:
        """Keep an activity; False if it was already held (then nothing changes)."""

    @abstractmethod
    async def documents(self) -> list[dict[str, Any]]:
        """Every activity held."""


class Ledger(ABC):
    """The append-only commission ledger."""

    @abstractmethod
    async def lock_plan(self, plan_id: str, *, shared: bool = False) -> None:
        """Serialize postings to one plan's ledger until the transaction ends (replicas
        never post the same delta twice): exclusive for a run of whole periods; `shared`
        for keyed runs, which lock their payees too (`lock_payees`) and their deals by
        their rows (`Deals.held_revision`)."""

    @abstractmethod
    async def lock_payees(self, plan_id: str, payees: Collection[str]) -> None:
        """Lock the plan's lines of these payees until the transaction ends, in one order
        (by id) whoever asks, so two keyed runs never wait for each other in a circle."""

    @abstractmethod
    async def append(self, *entries: LedgerEntry) -> None:
        """Append entries, in this order (one round trip per 1,000 in SQL)."""

    @abstractmethod
    async def posted_sums(
        self, plan_id: str, periods: Iterable[str] | None = None, keyed: KeyedRun | None = None
    ) -> dict[PostingKey, Decimal]:
        """The sum posted per posting key for a plan (only `periods` when given; only the
        keys a keyed run wants, `KeyedRun.wants`, with `keyed`)."""

    @abstractmethod
    async def entries(
        self, *, payee: str | None = None, deal: str | None = None, limit: int = 500
    ) -> list[LedgerEntry]:
        """Entries, oldest first, optionally of one payee and/or one deal."""


class CalcExceptions(ABC):
    """The current calculation exceptions, per plan."""

    @abstractmethod
    async def replace(self, plan_id: str, found: list[CalcException], scope: RunScope | None) -> None:
        """Keep a plan's exceptions equal to what a run found.

        `scope=None` (a whole-plan run) replaces the plan's list. A scoped run replaces
        exactly the exceptions of what it recomputed: those of the deals it loaded and the
        deal-less ones (missing quota) of its periods (of its payees only, when it names
        them: a keyed run); the rest of the plan's list stays.
        `found` holds only exceptions inside the scope.
        """

    @abstractmethod
    async def counts(self) -> dict[str, int]:
        """How many exceptions of each kind, over every plan."""

    @abstractmethod
    async def all(self) -> list[PlanException]:
        """Every exception, oldest first."""


@dataclass
class CalcRepositories:
    """Every repository of calc-engine (`uow.repos`)."""

    plans: Plans
    payees: Payees
    quotas: Quotas
    fx_rates: FxRates
    deals: Deals
    activities: Activities
    ledger: Ledger
    exceptions: CalcExceptions
    references: References
    # Deals parsed from their revisions, shared by every unit of work of one process.
    parsed: ParsedDeals
    # Payees, quotas and fx rates parsed per version, shared likewise.
    reference: ReferenceCache


# ---------------------------------------------------------------------------- SQL


class SqlPlans(Plans):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, plan: StoredPlan) -> None:
        await self.session.execute(
            insert(plans)
            .values(plan_id=plan.plan_id, version=plan.version, document=plan.document)
            .on_conflict_do_nothing()
        )

    async def latest(self, plan_id: str) -> StoredPlan | None:
        row = (
            await self.session.execute(
                sa.select(plans.c.version, plans.c.document)
                .where(plans.c.plan_id == plan_id)
                .order_by(plans.c.version.desc())
                .limit(1)
            )
        ).first()
        return None if row is None else StoredPlan(plan_id, row.version, dict(row.document))

    async def versions(self, plan_id: str) -> list[StoredPlan]:
        rows = await self.session.execute(
            sa.select(plans.c.version, plans.c.document)
            .where(plans.c.plan_id == plan_id)
            .order_by(plans.c.version)
        )
        return [StoredPlan(plan_id, r.version, dict(r.document)) for r in rows.all()]

    async def ids(self) -> list[str]:
        return list((await self.session.execute(sa.select(plans.c.plan_id).distinct())).scalars())


class SqlPayees(Payees):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, payee_id: str, document: dict[str, Any]) -> None:
        await self.session.execute(
            insert(payees)
            .values(id=payee_id, document=document)
            .on_conflict_do_update(index_elements=[payees.c.id], set_={"document": document})
        )
        await _moved(self.session)

    async def documents(self) -> dict[str, dict[str, Any]]:
        return {r.id: dict(r.document) for r in (await self.session.execute(sa.select(payees))).all()}


class SqlQuotas(Quotas):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, payee: str, period: str, amount: Decimal) -> None:
        await self.session.execute(
            insert(quotas)
            .values(payee=payee, period=period, amount=amount)
            .on_conflict_do_update(index_elements=[quotas.c.payee, quotas.c.period], set_={"amount": amount})
        )
        await _moved(self.session)

    async def remove(self, payee: str, period: str) -> None:
        await self.session.execute(quotas.delete().where(quotas.c.payee == payee, quotas.c.period == period))
        await _moved(self.session)

    async def all(self) -> list[Quota]:
        rows = (await self.session.execute(sa.select(quotas))).all()
        return [Quota(payee=r.payee, period=r.period, amount=Decimal(r.amount)) for r in rows]


class SqlFxRates(FxRates):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, rate: FxRate) -> None:
        values = {"day": rate.day, "from_currency": rate.from_currency, "to_currency": rate.to_currency}
        await self.session.execute(
            insert(fx_rates)
            .values(**values, rate=rate.rate)
            .on_conflict_do_update(
                index_elements=[fx_rates.c.day, fx_rates.c.from_currency, fx_rates.c.to_currency],
                set_={"rate": rate.rate},
            )
        )
        await _moved(self.session)

    async def remove(self, day: date, from_currency: str, to_currency: str) -> None:
        await self.session.execute(
            fx_rates.delete().where(
                fx_rates.c.day == day,
                fx_rates.c.from_currency == from_currency,
                fx_rates.c.to_currency == to_currency,
            )
        )
        await _moved(self.session)

    async def all(self) -> list[FxRate]:
        rows = (await self.session.execute(sa.select(fx_rates))).all()
        return [FxRate(r.day, r.from_currency, r.to_currency, Decimal(r.rate)) for r in rows]


async def _moved(session: AsyncSession) -> None:
    """Move the reference version: this transaction's id (so a version read in one that
    later rolled back is never seen again) and one more write (so each write moves it)."""
    this_transaction = sa.cast(sa.cast(sa.func.pg_current_xact_id(), sa.Text), sa.BigInteger)
    t = reference_version
    await session.execute(t.update().values(xact=this_transaction, writes=t.c.writes + 1))


class SqlReferences(References):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def version(self) -> tuple[int, int]:
        t = reference_version
        row = (await self.session.execute(sa.select(t.c.xact, t.c.writes))).one()
        return (int(row.xact), int(row.writes))


class SqlDeals(Deals):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def held_revision(self, deal: str) -> int | None:
        held: int | None = (
            await self.session.execute(
                sa.select(deals.c.revision).where(deals.c.deal == deal).with_for_update()
            )
        ).scalar()
        return held

    async def hold(self, deal: str, revision: int, status: str) -> None:
        await self.session.execute(
            insert(deals)
            .values(deal=deal, revision=revision, status=status)
            .on_conflict_do_update(
                index_elements=[deals.c.deal], set_={"revision": revision, "status": status}
            )
        )

    async def add_revision(
        self, deal: str, revision: int, document: dict[str, Any], close_day: date | None
    ) -> None:
        people = people_of(document)
        await self.session.execute(
            insert(deal_revisions)
            .values(deal=deal, revision=revision, document=document, close_day=close_day, people=people)
            .on_conflict_do_nothing()
        )

    async def revision(self, deal: str, revision: int) -> dict[str, Any] | None:
        document = (
            await self.session.execute(
                sa.select(deal_revisions.c.document).where(
                    deal_revisions.c.deal == deal, deal_revisions.c.revision == revision
                )
            )
        ).scalar()
        return None if document is None else dict(document)

    async def history(self, deal: str) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            sa.select(deal_revisions.c.document).where(deal_revisions.c.deal == deal)
        )
        return [dict(d) for d in rows.scalars()]

    async def held_snapshots(self) -> list[dict[str, Any]]:
        rows = await self.session.execute(
            sa.select(deal_revisions.c.document).join(
                deals,
                (deals.c.deal == deal_revisions.c.deal) & (deals.c.revision == deal_revisions.c.revision),
            )
        )
        return [dict(d) for d in rows.scalars()]

    async def revisions(
        self, window: tuple[date, date] | None = None, deals: Collection[str] | None = None
    ) -> list[dict[str, Any]]:
        query = sa.select(deal_revisions.c.document)
        if window is not None:
            query = query.where(deal_revisions.c.deal.in_(_closing_in(window)))
        if deals is not None:
            query = query.where(deal_revisions.c.deal == _any_of(deals))
        return [dict(d) for d in (await self.session.execute(query)).scalars()]

    async def naming(self, people: Collection[str]) -> dict[str, tuple[set[str], set[str]]]:
        if not people:
            return {}
        t = deal_revisions
        wanted = sa.bindparam(None, sorted(people), type_=ARRAY(sa.Text))
        return await self._dates_and_people(sa.select(t.c.deal).where(t.c.people.op("&&")(wanted)))

    async def _dates_and_people(self, chosen: sa.Select[tuple[str]]) -> dict[str, tuple[set[str], set[str]]]:
        """Each chosen deal with the close dates and the people of all its revisions."""
        t = deal_revisions
        rows = await self.session.execute(
            sa.select(t.c.deal, t.c.document["close_date"].astext, t.c.people).where(t.c.deal.in_(chosen))
        )
        found: dict[str, tuple[set[str], set[str]]] = {}
        for deal, close_date, people in rows.all():
            days, named = found.setdefault(deal, (set(), set()))
            if close_date:
                days.add(close_date)
            named.update(people)
        return found

    async def in_currency(self, currency: str, since: date) -> dict[str, tuple[set[str], set[str]]]:
        t = deal_revisions
        in_it = t.c.document["currency"].astext == currency
        return await self._dates_and_people(sa.select(t.c.deal).where(in_it, t.c.close_day >= since))

    async def held(self) -> list[HeldDeal]:
        rows = (await self.session.execute(sa.select(deals).order_by(deals.c.deal))).all()
        return [HeldDeal(r.deal, r.revision, r.status) for r in rows]

    async def revision_numbers(
        self,
        deals: Collection[str] | None = None,
        window: tuple[date, date] | None = None,
        people: Collection[str] | None = None,
    ) -> dict[str, list[int]]:
        t = deal_revisions
        numbers = sa.func.array_agg(aggregate_order_by(t.c.revision, t.c.revision))
        query = sa.select(t.c.deal, numbers.label("n")).group_by(t.c.deal)
        if deals is not None:
            query = query.where(t.c.deal == _any_of(deals))
        if window is not None:
            query = query.where(t.c.deal.in_(_closing_in(window, people)))
        rows = (await self.session.execute(query)).all()
        return {r.deal: list(r.n) for r in rows}


def _any_of(values: Iterable[str]) -> Any:
    """`= ANY($1)` with the values as one text[] parameter: an `IN` list binds one parameter
    per value, and Postgres' protocol allows at most 32,767 (a period of 40k deals would
    never reconcile)."""
    return sa.any_(sa.bindparam(None, sorted(values), type_=ARRAY(sa.Text)))


def _closing_in(window: tuple[date, date], people: Collection[str] | None = None) -> sa.Select[tuple[str]]:
    """The deals with a revision whose close day lies inside `window` (inclusive) and, with
    `people`, that names one of them."""
    t = deal_revisions
    if people is None:
        return sa.select(t.c.deal).where(t.c.close_day.between(window[0], window[1])).distinct()
    # The revisions naming these people come from the GIN index alone; OFFSET 0 keeps the
    # planner from also scanning the close-day index over the window and ANDing both
    # bitmaps (12 ms at 1M deals held, growing with history; this way 0.1 ms).
    wanted = sa.bindparam(None, sorted(people), type_=ARRAY(sa.Text))
    named = sa.select(t.c.deal, t.c.close_day).where(t.c.people.op("&&")(wanted)).offset(0).subquery()
    return sa.select(named.c.deal).where(named.c.close_day.between(window[0], window[1])).distinct()


class SqlActivities(Activities):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, activity: str, document: dict[str, Any]) -> bool:
        inserted = (
            await self.session.execute(
                insert(activities)
                .values(activity=activity, document=document)
                .on_conflict_do_nothing()
                .returning(activities.c.activity)
            )
        ).first()
        return inserted is not None

    async def documents(self) -> list[dict[str, Any]]:
        return [dict(d) for d in (await self.session.execute(sa.select(activities.c.document))).scalars()]


class SqlLedger(Ledger):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_plan(self, plan_id: str, *, shared: bool = False) -> None:
        lock = sa.func.pg_advisory_xact_lock_shared if shared else sa.func.pg_advisory_xact_lock
        await self.session.execute(sa.select(lock(sa.func.hashtext(f"plan:{plan_id}"))))

    async def lock_payees(self, plan_id: str, payees: Collection[str]) -> None:
        if not payees:
            return
        # Sorted in a subquery, so the locks are taken in that order (one round trip).
        names = sa.select(
            sa.func.unnest(
                sa.bindparam(None, sorted(f"plan:{plan_id}:payee:{p}" for p in payees), type_=ARRAY(sa.Text))
            ).label("name")
        ).subquery()
        ordered = sa.select(names.c.name).order_by(names.c.name).subquery()
        await self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(ordered.c.name))))

    async def append(self, *entries: LedgerEntry) -> None:
        # posted_at is the database's clock (server default), as it always was. A list of
        # rows is one multi-row INSERT per 1,000 (SQLAlchemy's insertmanyvalues).
        if not entries:
            return
        await self.session.execute(
            ledger.insert(),
            [
                {
                    "entry_id": entry.entry_id,
                    "payee": entry.payee,
                    "plan": entry.plan,
                    "plan_version": entry.plan_version,
                    "component": entry.component,
                    "period": entry.period,
                    "entry_date": entry.entry_date,
                    "pay_period": entry.pay_period,
                    "amount": entry.amount,
                    "currency": entry.currency,
                    "cash": entry.cash,
                    "deal": entry.deal,
                    "cause_event": entry.cause_event,
                    "explanation": entry.explanation,
                }
                for entry in entries
            ],
        )

    async def posted_sums(
        self, plan_id: str, periods: Iterable[str] | None = None, keyed: KeyedRun | None = None
    ) -> dict[PostingKey, Decimal]:
        # A re-dated correction counts towards the day the engine dates it (ENGINE_DATE).
        day = sa.func.coalesce(
            sa.cast(ledger.c.explanation[ENGINE_DATE].astext, sa.Date), ledger.c.entry_date
        ).label("day")
        query = (
            sa.select(
                ledger.c.payee,
                ledger.c.component,
                ledger.c.period,
                day,
                ledger.c.deal,
                sa.func.sum(ledger.c.amount),
            )
            .where(ledger.c.plan == plan_id)
            .group_by(ledger.c.payee, ledger.c.component, ledger.c.period, day, ledger.c.deal)
        )
        if periods is not None:
            query = query.where(ledger.c.period.in_(sorted(periods)))
        if keyed is not None:
            linear = ledger.c.component == _any_of(keyed.linear)
            query = query.where(
                (linear & (ledger.c.deal == _any_of(keyed.deals)))
                | (~linear & (ledger.c.payee == _any_of(keyed.payees)))
            )
            if keyed.skipped:
                query = query.where(~(ledger.c.component == _any_of(keyed.skipped)))
        rows = (await self.session.execute(query)).all()
        return {PostingKey(r[0], r[1], r[2], r[3], r[4]): Decimal(r[5]) for r in rows}

    async def entries(
        self, *, payee: str | None = None, deal: str | None = None, limit: int = 500
    ) -> list[LedgerEntry]:
        query = sa.select(ledger).order_by(ledger.c.seq).limit(limit)
        if payee is not None:
            query = query.where(ledger.c.payee == payee)
        if deal is not None:
            query = query.where(ledger.c.deal == deal)
        return [
            LedgerEntry(
                entry_id=r.entry_id,
                payee=r.payee,
                plan=r.plan,
                plan_version=r.plan_version,
                component=r.component,
                period=r.period,
                entry_date=r.entry_date,
                pay_period=r.pay_period,
                amount=Decimal(r.amount),
                currency=r.currency,
                cash=r.cash,
                deal=r.deal,
                cause_event=r.cause_event,
                explanation=dict(r.explanation),
                posted_at=r.posted_at,
            )
            for r in (await self.session.execute(query)).all()
        ]


class SqlCalcExceptions(CalcExceptions):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(self, plan_id: str, found: list[CalcException], scope: RunScope | None) -> None:
        t = calc_exceptions
        if scope is None:
            await self.session.execute(t.delete().where(t.c.plan == plan_id))
        else:
            await self.session.execute(
                t.delete().where(
                    t.c.plan == plan_id,
                    (t.c.deal == _any_of(scope.deals))
                    | (
                        t.c.deal.is_(None)
                        & (t.c.period == _any_of(scope.periods))
                        & (sa.true() if scope.payees is None else t.c.payee == _any_of(scope.payees))
                    ),
                )
            )
        if found:
            await self.session.execute(
                t.insert(),
                [
                    {
                        "plan": plan_id,
                        "kind": e.kind,
                        "payee": e.payee,
                        "deal": e.deal,
                        "detail": e.detail,
                        "period": e.period,
                    }
                    for e in found
                ],
            )

    async def counts(self) -> dict[str, int]:
        t = calc_exceptions
        rows = (await self.session.execute(sa.select(t.c.kind, sa.func.count()).group_by(t.c.kind))).all()
        return {kind: count for kind, count in rows}

    async def all(self) -> list[PlanException]:
        t = calc_exceptions
        rows = (await self.session.execute(sa.select(t).order_by(t.c.id))).all()
        return [PlanException(r.plan, r.kind, r.payee, r.deal, r.detail, r.period) for r in rows]


def sql_repositories(
    session: AsyncSession, parsed: ParsedDeals | None = None, reference: ReferenceCache | None = None
) -> CalcRepositories:
    """calc-engine's repositories on one session (the unit of work's); `parsed` and
    `reference`: the process's caches of parsed deals and reference data (new, empty ones
    when not given)."""
    from calc_engine.adapters.parsed_deals import ParsedDeals  # they import this module
    from calc_engine.adapters.reference_data import ReferenceCache

    return CalcRepositories(
        plans=SqlPlans(session),
        payees=SqlPayees(session),
        quotas=SqlQuotas(session),
        fx_rates=SqlFxRates(session),
        deals=SqlDeals(session),
        activities=SqlActivities(session),
        ledger=SqlLedger(session),
        exceptions=SqlCalcExceptions(session),
        references=SqlReferences(session),
        parsed=parsed if parsed is not None else ParsedDeals(),
        reference=reference if reference is not None else ReferenceCache(),
    )
