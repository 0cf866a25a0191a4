"""Reconcile the ledger of one plan with the engine: post E' - E where they differ.

Runs inside the consumer's transaction (inbox + state + ledger + outbox commit together).
A per-plan advisory lock serializes replicas, so two never post the same delta.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession

from calc_engine.adapters.tables import calc_exceptions, ledger, outbox
from calc_engine.domain.assignments import assigned
from calc_engine.domain.ledger import PostingKey, deltas, desired_postings
from calc_engine.service_layer.inputs import latest_plan, load_inputs, plan_ids
from provisio_calc import CalcException, Line, Plan, calculate
from provisio_calc.periods import local_day, pay_period_of, period_bounds, period_of
from provisio_common.events import LedgerEntryRecord, envelope
from provisio_common.ids import new_id
from provisio_common.outbox import add_to_outbox
from provisio_common.topics import LEDGER

EXCEPTION_KINDS = {"missing_quota", "missing_fx", "bad_split", "unknown_payee"}
EXCEPTIONS = Gauge(
    "provisio_calc_exceptions", "Current calculation exceptions by kind (calc-engine)", ["kind"]
)


async def replace_exceptions(
    session: AsyncSession,
    plan_id: str,
    found: list[CalcException],
    scope: set[str] | None,
    loaded_deals: set[str],
) -> None:
    """Keep `calc_exceptions` equal to what the engine reports.

    A whole-plan run replaces the plan's list. A scoped run knows only the deals it
    loaded: it replaces theirs and adds its deal-less ones (missing quota) once.
    """
    t = calc_exceptions
    if scope is None:
        await session.execute(t.delete().where(t.c.plan == plan_id))
    else:
        await session.execute(t.delete().where(t.c.plan == plan_id, t.c.deal.in_(sorted(loaded_deals))))
        for exc in (e for e in found if e.deal is None):
            await session.execute(
                t.delete().where(
                    t.c.plan == plan_id,
                    t.c.deal.is_(None),
                    t.c.kind == exc.kind,
                    t.c.payee.is_not_distinct_from(exc.payee),
                    t.c.detail == exc.detail,
                )
            )
    if found:
        await session.execute(
            t.insert(),
            [
                {"plan": plan_id, "kind": e.kind, "payee": e.payee, "deal": e.deal, "detail": e.detail}
                for e in found
            ],
        )
    rows = (await session.execute(sa.select(t.c.kind, sa.func.count()).group_by(t.c.kind))).all()
    counts: dict[str, int] = {kind: count for kind, count in rows}
    for kind in EXCEPTION_KINDS | set(counts):
        EXCEPTIONS.labels(kind).set(counts.get(kind, 0))


def entry_explanation(line: Line | None, deal: str | None, plan_version: int) -> dict[str, Any]:
    """The line's arithmetic (value, quota, attainment, bands, rate, earned) for one entry.

    The per-deal lists of the line are left out (they would make every entry as large as
    its period); the entry keeps the credit of its own deal, and the line's other deals
    are on their own entries.
    """
    if line is None:
        return {"reason": "the line no longer earns", "plan_version": plan_version}
    explanation = {k: v for k, v in line.explanation.items() if k not in ("credits", "entries")}
    explanation["plan_version"] = plan_version
    for credit in line.explanation.get("credits", []):
        if deal is not None and credit.get("deal") == deal:
            explanation["deal_credit"] = credit
    return explanation


def affected_periods(plan: Plan, days: Iterable[date | datetime | str]) -> set[str] | None:
    """The plan periods a deal event touches, or None when the whole plan must be redone."""
    touched = list(days)
    if not touched or any(c.kind == "contest" for c in plan.components):
        return None
    return {period_of(local_day(day, plan.timezone), plan.period) for day in touched}


async def posted_sums(
    session: AsyncSession, plan_id: str, periods: set[str] | None = None
) -> dict[PostingKey, Decimal]:
    """What the ledger already holds, per posting key (optionally for some periods only)."""
    query = (
        sa.select(
            ledger.c.payee,
            ledger.c.component,
            ledger.c.period,
            ledger.c.entry_date,
            ledger.c.deal,
            sa.func.sum(ledger.c.amount),
        )
        .where(ledger.c.plan == plan_id)
        .group_by(ledger.c.payee, ledger.c.component, ledger.c.period, ledger.c.entry_date, ledger.c.deal)
    )
    if periods is not None:
        query = query.where(ledger.c.period.in_(sorted(periods)))
    rows = (await session.execute(query)).all()
    return {PostingKey(r[0], r[1], r[2], r[3], r[4]): Decimal(r[5]) for r in rows}


async def reconcile_plan(
    session: AsyncSession,
    plan_id: str,
    cause_event: str,
    as_of: date | None = None,
    days: Iterable[date | datetime | str] = (),
) -> int:
    """Bring one plan's ledger to what the engine computes now; return entries posted.

    With `days` (the close dates a deal event touched), only the measurement periods
    containing them are recomputed, from the deals closing in them; plans with a contest
    (whose windows span periods) are always recomputed whole.
    """
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"plan:{plan_id}"))))
    row = await latest_plan(session, plan_id)
    if row is None:
        return 0
    plan = row.plan
    scope = affected_periods(plan, days)
    window = None
    if scope is not None:
        bounds = [period_bounds(p) for p in scope]
        # A day of margin either side: the index is the CRM's calendar day, the engine
        # decides in the plan's timezone.
        window = (
            min(b[0] for b in bounds) - timedelta(days=1),
            max(b[1] for b in bounds) + timedelta(days=1),
        )
    inputs = await load_inputs(session, window)
    today = as_of or datetime.now(UTC).date()
    result = calculate(
        plan,
        inputs.deals,
        payees=inputs.payees,
        quotas=inputs.quotas,
        activities=inputs.activities,
        fx=inputs.fx,
        as_of=today,
    )

    def on_plan(line: Line) -> bool:
        document = inputs.payee_documents.get(line.payee)
        first, last = period_bounds(line.period)
        return document is not None and assigned(document, plan_id, first, last)

    lines = [line for line in result.lines if on_plan(line) and (scope is None or line.period in scope)]
    by_line = {(line.payee, line.component, line.period): line for line in lines}
    posted = 0
    posted_now = await posted_sums(session, plan_id, scope)
    for key, delta in deltas(desired_postings(lines), posted_now):
        line = by_line.get((key.payee, key.component, key.period))
        explanation = entry_explanation(line, key.deal, row.version)
        entry = LedgerEntryRecord(
            entry_id=new_id(),
            payee=key.payee,
            plan=plan_id,
            plan_version=row.version,
            component=key.component,
            period=key.period,
            entry_date=key.day,
            pay_period=pay_period_of(key.day, plan.pay_frequency),
            amount=delta,
            currency=plan.currency,
            rounding=plan.rounding,
            cash=line.cash if line is not None else True,
            deal=key.deal,
            cause_event=cause_event,
            explanation=explanation,
            posted_at=datetime.now(UTC),
        )
        data = entry.to_data()
        await session.execute(
            ledger.insert().values(
                entry_id=entry.entry_id,
                payee=entry.payee,
                plan=entry.plan,
                plan_version=entry.plan_version,
                component=entry.component,
                period=entry.period,
                entry_date=entry.entry_date,
                pay_period=entry.pay_period,
                amount=entry.amount,
                currency=entry.currency,
                cash=entry.cash,
                deal=entry.deal,
                cause_event=cause_event,
                explanation=data["explanation"],
            )
        )
        await add_to_outbox(
            session,
            outbox,
            LEDGER.name,
            entry.payee,
            envelope("ledger.entry", "calc-engine", entry.payee, entry),
        )
        posted += 1
    await replace_exceptions(session, plan_id, result.exceptions, scope, {d.key for d in inputs.deals})
    return posted


async def reconcile_all(
    session: AsyncSession,
    cause_event: str,
    as_of: date | None = None,
    days: Iterable[date | datetime | str] = (),
) -> int:
    """Reconcile every plan (only the periods of `days` when given)."""
    touched = list(days)
    total = 0
    for plan_id in sorted(await plan_ids(session)):
        total += await reconcile_plan(session, plan_id, cause_event, as_of, touched)
    return total
