"""Reconcile the ledger of one plan with the engine: post E' - E where they differ.

Runs inside the consumer's unit of work (inbox + state + ledger + outbox commit together),
or inside `recompute`'s. A per-plan lock serializes replicas, so two never post the same
delta.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime

from calc_engine.adapters.metrics import show_exception_counts
from calc_engine.domain.assignments import assigned, deal_people, exception_in_scope, exception_on_plan
from calc_engine.domain.ledger import LedgerEntry, deltas, desired_postings, entry_explanation
from calc_engine.domain.model import RunScope
from calc_engine.domain.scope import affected_periods, close_day_window
from calc_engine.service_layer import CalcUoW
from calc_engine.service_layer.inputs import load_inputs
from provisio_calc import Line, calculate, load_plan
from provisio_calc.periods import pay_period_of, period_bounds
from provisio_common.events import LedgerEntryRecord
from provisio_common.ids import new_id


async def reconcile_plan(
    uow: CalcUoW,
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
    repos = uow.repos
    await repos.ledger.lock_plan(plan_id)
    stored = await repos.plans.latest(plan_id)
    if stored is None:
        return 0
    plan = load_plan(stored.document)
    scope = affected_periods(plan, days)
    window = None if scope is None else close_day_window(scope)
    inputs = await load_inputs(repos, window)
    result = calculate(
        plan,
        inputs.deals,
        payees=inputs.payees,
        quotas=inputs.quotas,
        activities=inputs.activities,
        fx=inputs.fx,
        as_of=as_of or datetime.now(UTC).date(),
    )

    def on_plan(line: Line) -> bool:
        document = inputs.payee_documents.get(line.payee)
        first, last = period_bounds(line.period)
        return document is not None and assigned(document, plan_id, first, last)

    lines = [line for line in result.lines if on_plan(line) and (scope is None or line.period in scope)]
    by_line = {(line.payee, line.component, line.period): line for line in lines}
    posted = 0
    posted_now = await repos.ledger.posted_sums(plan_id, scope)
    for key, delta in deltas(desired_postings(lines), posted_now):
        line = by_line.get((key.payee, key.component, key.period))
        record = LedgerEntryRecord(
            entry_id=new_id(),
            payee=key.payee,
            plan=plan_id,
            plan_version=stored.version,
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
            explanation=entry_explanation(line, key.deal, stored.version),
            posted_at=datetime.now(UTC),
        )
        await repos.ledger.append(stored_entry(record))
        await uow.publish(record)
        posted += 1
    run = None if scope is None else RunScope(frozenset(d.key for d in inputs.deals), frozenset(scope))
    people = deal_people(inputs.deals)
    found = [
        e
        for e in result.exceptions
        if exception_in_scope(e, run) and exception_on_plan(e, plan_id, inputs.payee_documents, people)
    ]
    await repos.exceptions.replace(plan_id, found, run)
    show_exception_counts(await repos.exceptions.counts())
    return posted


def stored_entry(record: LedgerEntryRecord) -> LedgerEntry:
    """The ledger row of a published entry (its explanation as the JSON it travels as)."""
    return LedgerEntry(
        entry_id=record.entry_id,
        payee=record.payee,
        plan=record.plan,
        plan_version=record.plan_version,
        component=record.component,
        period=record.period,
        entry_date=record.entry_date,
        pay_period=record.pay_period,
        amount=record.amount,
        currency=record.currency,
        cash=record.cash,
        deal=record.deal,
        cause_event=record.cause_event,
        explanation=record.to_data()["explanation"],
        posted_at=record.posted_at,
    )


async def reconcile_all(
    uow: CalcUoW,
    cause_event: str,
    as_of: date | None = None,
    days: Iterable[date | datetime | str] = (),
) -> int:
    """Reconcile every plan (only the periods of `days` when given)."""
    touched = list(days)
    total = 0
    for plan_id in sorted(await uow.repos.plans.ids()):
        total += await reconcile_plan(uow, plan_id, cause_event, as_of, touched)
    return total


async def recompute(uow: CalcUoW, as_of: date | None = None) -> int:
    """Recompute every plan from its current inputs, post any difference and commit;
    return the entries posted (0 on a consistent ledger)."""
    async with uow:
        posted = await reconcile_all(uow, cause_event=f"recompute:{new_id()}", as_of=as_of)
        await uow.commit()
    return posted
