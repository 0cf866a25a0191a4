"""Reconcile the ledger of one plan with the engine: post E' - E where they differ.

Runs inside the consumer's unit of work (inbox + state + ledger + outbox commit together),
or inside `recompute`'s. Deal and quota events run keyed (`domain.keyed`): only the lines
and entries they can change, from only the deals crediting those people. Locks keep two
replicas from posting the same delta: a keyed run holds the plan's lock shared, its payees'
locks and its deals' rows; any other run holds the plan's lock alone, exclusive.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, date, datetime

from calc_engine.adapters.metrics import observe_run, show_exception_counts
from calc_engine.adapters.repositories import CalcRepositories
from calc_engine.domain.assignments import assigned, deal_people, exception_in_scope, exception_on_plan
from calc_engine.domain.keyed import KeyedRun, keyed_run
from calc_engine.domain.ledger import (
    LedgerEntry,
    deltas,
    desired_postings,
    entry_explanation,
    posting_day,
    redated_explanation,
)
from calc_engine.domain.model import RunScope, StoredPlan
from calc_engine.domain.plan_versions import (
    PlanChange,
    counts_activities,
    held_versions,
    periods_of_days,
    run_scope,
    version_named,
)
from calc_engine.domain.scope import close_day_window
from calc_engine.service_layer import CalcUoW
from calc_engine.service_layer.inputs import load_inputs
from provisio_calc import Line, Plan, calculate
from provisio_calc.periods import pay_period_of, period_bounds
from provisio_common.auth import Principal
from provisio_common.events import LedgerEntryRecord
from provisio_common.ids import new_id


async def reconcile_plan(
    uow: CalcUoW,
    plan_id: str,
    cause_event: str,
    as_of: date | None = None,
    days: Iterable[date | datetime | str] = (),
    change: PlanChange | None = None,
    whole: bool = False,
    touched: tuple[Collection[str], Collection[str]] | None = None,
    whole_unless_keyed: bool = False,
    activity_days: Collection[str] = (),
) -> int:
    """Bring one plan's ledger to what the engine computes now; return entries posted.

    Every held version of the plan is computed (each measurement period under the newest
    version whose `effective` contains its first day). With `days` (the close dates a deal
    event touched), only the measurement periods containing them are recomputed, from the
    deals closing in them; with `change` (versions of this plan just stored), the periods
    those versions can change, and corrections of days before the change are dated the
    day it was made (PLANS.md "Payout"). With `days`, `touched` (the deals and payees the
    events touched; `days` then holds every close day of every revision of those deals)
    and no `change`, a plan that can be is run keyed (`domain.keyed`); one that cannot is
    run whole with `whole_unless_keyed` (a payee changed), else for the periods of `days`.
    Plans with a contest not run keyed (its window spans periods), `whole`, or neither
    `days` nor `change`: the whole plan. `activity_days` (the days of new activities whose
    owners are known) count only for a plan that measures activities: they add their
    periods to its run; a plan that counts none is not run for them.
    """
    repos = uow.repos
    day_list = list(days)
    run_day = as_of or datetime.now(UTC).date()

    def planned(held: list[StoredPlan]) -> _Run:
        versions = held_versions(held)
        keyed = None
        if not whole and change is None and touched is not None:
            keyed = keyed_run(versions, *touched, as_of=run_day, days=day_list)
        if keyed is not None:
            return versions, periods_of_days(versions, day_list), keyed
        if whole or whole_unless_keyed:
            return versions, None, None
        return versions, _periods(versions, day_list, activity_days, change), None

    locked = await _locked(repos, plan_id, planned, touched is not None and change is None and not whole)
    if locked is None:
        return 0
    versions, scope, keyed = locked
    plan = versions[-1]
    window = None if scope is None else close_day_window(scope)
    # A whole run looks at every activity (an unknown owner is an exception of the plan).
    inputs = await load_inputs(repos, window, keyed, scope is None or counts_activities(versions))
    observe_run(len(inputs.deals), "plan" if scope is None else "periods" if keyed is None else "keyed")
    result = calculate(
        versions,
        inputs.deals,
        payees=inputs.payees,
        quotas=inputs.quotas,
        activities=inputs.activities,
        fx=inputs.fx,
        as_of=run_day,
    )

    def on_plan(line: Line) -> bool:
        document = inputs.payee_documents.get(line.payee)
        first, last = period_bounds(line.period)
        return document is not None and assigned(document, plan_id, first, last)

    def in_run(line: Line) -> bool:
        return (scope is None or line.period in scope) and (
            keyed is None or keyed.wants_line(line.payee, line.component)
        )

    lines = [line for line in result.lines if in_run(line) and on_plan(line)]
    by_line = {(line.payee, line.component, line.period): line for line in lines}
    posting: list[LedgerEntry] = []
    desired = desired_postings(lines)
    if keyed is not None:
        desired = {k: v for k, v in desired.items() if keyed.wants(k.payee, k.component, k.deal)}
    posted_now = await repos.ledger.posted_sums(plan_id, scope, keyed)
    redate = None if change is None else change.day
    for key, delta in deltas(desired, posted_now):
        line = by_line.get((key.payee, key.component, key.period))
        # The version that computed the line (the newest for a line that no longer earns).
        version = version_named(versions, None if line is None else line.explanation.get("plan_version"))
        assert isinstance(version.version, int)
        day = posting_day(key.day, redate)
        totals = keyed is None or keyed.totals_known(key.payee, key.component)
        explanation = entry_explanation(line, key.deal, version.version, totals)
        why = f"plan {plan_id} changed on {redate} (version {max(change.versions)})" if change else ""
        record = LedgerEntryRecord(
            entry_id=new_id(),
            payee=key.payee,
            plan=plan_id,
            plan_version=version.version,
            component=key.component,
            period=key.period,
            entry_date=day,
            pay_period=pay_period_of(day, plan.pay_frequency),
            amount=delta,
            currency=plan.currency,
            rounding=version.rounding,
            cash=line.cash if line is not None else True,
            deal=key.deal,
            cause_event=cause_event,
            explanation=redated_explanation(explanation, key.day, day, why),
            posted_at=datetime.now(UTC),
        )
        posting.append(stored_entry(record))
        await uow.publish(record)
    await repos.ledger.append(*posting)
    run = None
    if keyed is not None:
        # Only the touched deals' exceptions (they are locked by their rows; another keyed
        # run may load the other deals too) and the missing quotas of the locked payees.
        run = RunScope(keyed.deals, frozenset(scope or ()), keyed.payees)
    elif scope is not None:
        run = RunScope(frozenset(d.key for d in inputs.deals), frozenset(scope))
    people = deal_people(inputs.deals)
    found = [
        e
        for e in result.exceptions
        if exception_in_scope(e, run) and exception_on_plan(e, plan_id, inputs.payee_documents, people)
    ]
    await repos.exceptions.replace(plan_id, found, run)
    show_exception_counts(await repos.exceptions.counts())
    return len(posting)


# The versions a run computes with, its periods (None: all) and its keys (None: not keyed).
_Run = tuple[list[Plan], set[str] | None, KeyedRun | None]


def _periods(
    versions: list[Plan],
    days: list[date | datetime | str],
    activity_days: Collection[str],
    change: PlanChange | None,
) -> set[str] | None:
    """The periods a run that is not keyed recomputes (`run_scope`), the days of new
    activities counting only for a plan that measures activities (empty: nothing to do)."""
    counted = days + (list(activity_days) if counts_activities(versions) else [])
    if activity_days and not counted and change is None:
        return set()  # only activities, and this plan counts none
    return run_scope(versions, counted, change)


async def _locked(
    repos: CalcRepositories, plan_id: str, planned: Callable[[list[StoredPlan]], _Run], keyable: bool
) -> _Run | None:
    """Take the run's locks and read the versions it computes with (None: nothing to do,
    no version held or a keyed run of no period, its people having no deals).

    A keyed run shares the plan's lock and locks its payees (its deals are locked by their
    rows): replicas run side by side unless they redo one payee's lines. Which run it is
    depends on the versions, so they are read first and again once locked (one may have
    been stored meanwhile); any other run holds the plan's lock alone, exclusive.
    """
    maybe = None
    if keyable:
        first = await repos.plans.versions(plan_id)
        maybe = planned(first)[2] if first else None
    await repos.ledger.lock_plan(plan_id, shared=maybe is not None)
    if maybe is not None:
        await repos.ledger.lock_payees(plan_id, maybe.payees)
    held = await repos.plans.versions(plan_id)
    if not held:
        return None
    run = planned(held)
    if maybe is not None and run[2] is None:
        await repos.ledger.lock_plan(plan_id)  # the plan can no longer run keyed (rare)
    return None if run[1] is not None and not run[1] else run


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
    changes: Mapping[str, PlanChange] | None = None,
    everything: bool = False,
    touched: tuple[Collection[str], Collection[str]] | None = None,
    whole_unless_keyed: bool = False,
    activity_days: Collection[str] = (),
) -> int:
    """Reconcile every plan (only the periods of `days` when given; whole with
    `everything`); `changes`: plan versions just stored, per plan; `touched`: the deals
    and payees the events touched; `activity_days`: the days of new activities (see
    `reconcile_plan`). With changes and none of the others, only the changed plans."""
    days = list(days)
    found = changes or {}
    every_plan = days or everything or whole_unless_keyed or activity_days or not found
    plan_ids = await uow.repos.plans.ids() if every_plan else list(found)
    total = 0
    for plan_id in sorted(plan_ids):
        total += await reconcile_plan(
            uow,
            plan_id,
            cause_event,
            as_of,
            days,
            found.get(plan_id),
            whole=everything,
            touched=touched,
            whole_unless_keyed=whole_unless_keyed,
            activity_days=activity_days,
        )
    return total


async def recompute(
    uow: CalcUoW, principal: Principal, as_of: date | None = None, inputs: Mapping[str, int] | None = None
) -> int:
    """Recompute every plan from its current inputs, post any difference and commit, audited
    (also when nothing was posted: who checked the ledger, and when; with the `inputs`
    differences found before, if any were looked for); return the entries posted (0 on a
    consistent ledger)."""
    async with uow:
        cause_event = f"recompute:{new_id()}"
        posted = await reconcile_all(uow, cause_event=cause_event, as_of=as_of)
        await uow.audit(
            principal,
            "ledger.recompute",
            "ledger",
            None,
            {"posted": posted, "cause_event": cause_event, "inputs": dict(inputs or {})},
        )
        await uow.commit()
    return posted
