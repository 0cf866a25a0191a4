"""`GET /explain/{payee}/{period}`: every line of a payee in a period, with its arithmetic, as
the engine computes it now from calc-engine's replicas (the numbers the ledger holds)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from calc_engine.domain.explain import payee_exceptions
from calc_engine.domain.plan_lines import assigned_plans, lines_on_plan, managers_of
from calc_engine.domain.plan_versions import held_versions
from calc_engine.domain.scope import affected_periods, close_day_window
from calc_engine.service_layer import CalcUoW
from calc_engine.service_layer.engine_runs import run_engine, today
from calc_engine.service_layer.inputs import load_inputs
from provisio_calc import CalcException, Line
from provisio_calc.periods import period_bounds
from provisio_common.auth import Principal, ensure_may_see
from provisio_common.problems import Problem, invalid


@dataclass(frozen=True)
class PlanLines:
    """One plan's lines of the payee in the period, and what kept others from being computed."""

    plan: str
    plan_version: int
    currency: str
    lines: list[Line]
    exceptions: list[CalcException]


@dataclass(frozen=True)
class Explanation:
    """The payee's lines in the period under every plan they are assigned to."""

    payee: str
    period: str
    as_of: date
    plans: list[PlanLines]


def period_days(period: str) -> tuple[date, date]:
    """The first and last day of a period (`2027`, `2027-H1`, `2027-Q1`, `2027-01`); 422 otherwise."""
    try:
        return period_bounds(period)
    except ValueError as exc:
        raise invalid([{"field": "period", "message": str(exc)}]) from exc


async def explain(
    uow: CalcUoW, principal: Principal, payee: str, period: str, as_of: date | None = None
) -> Explanation:
    """Every line of `payee` whose measurement period overlaps `period` (a quarterly plan's
    2027-Q1 line for 2027-02, every month of a monthly plan for 2027-Q1), with its full
    explanation: credits and dated entries included. 403 unless the caller may see the
    payee (DESIGN.md §7); 404 for an unknown payee; 422 for a bad period."""
    days = period_days(period)
    day = as_of or today()
    async with uow:
        payees = await uow.repos.payees.documents()
        ensure_may_see(principal, payee, managers_of(payees))
        if payee not in payees:
            raise Problem(404, f"no payee {payee!r}")
        runs = []
        for plan_id in assigned_plans(payees[payee]):
            held = await uow.repos.plans.versions(plan_id)
            if not held:
                continue
            versions = held_versions(held)
            # Deals closing in the plan periods that overlap the asked one (all, with a contest).
            scope = affected_periods(versions, days)
            inputs = await load_inputs(uow.repos, None if scope is None else close_day_window(scope))
            runs.append((plan_id, held[-1].version, versions, inputs))
    plans = []
    for plan_id, version, versions, inputs in runs:
        # Every version, as the ledger computes them; each line names its own version.
        result = await run_engine(versions, inputs, day, explain=True)
        lines = lines_on_plan(result.lines, plan_id, inputs.payee_documents, payee=payee, days=days)
        shown = payee_exceptions(result.exceptions, payee, days, (d.key for d in inputs.deals))
        plans.append(PlanLines(plan_id, version, versions[-1].currency, lines, shown))
    return Explanation(payee, period, day, plans)
