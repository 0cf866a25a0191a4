"""`POST /simulate`: a draft plan (never stored) against the current version of the plan with
its id, over every input calc-engine holds: one engine run per version, nothing written."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from calc_engine.domain.assignments import deal_people, exception_on_plan
from calc_engine.domain.inputs import Inputs
from calc_engine.domain.plan_lines import lines_on_plan
from calc_engine.domain.plan_versions import held_versions
from calc_engine.domain.simulation import (
    SimulationRow,
    SimulationTotals,
    exception_counts,
    range_totals,
    simulation_rows,
    simulation_totals,
)
from calc_engine.service_layer import CalcUoW
from calc_engine.service_layer.engine_runs import cyclic_gc_paused, run_engine, today
from calc_engine.service_layer.inputs import load_inputs
from provisio_calc import CalcResult, Plan, PlanInvalid, load_plan
from provisio_calc.versions import succession_problems, version_slices
from provisio_common.problems import invalid


@dataclass(frozen=True)
class Simulation:
    """The draft against the current version over [first, last], as of a day."""

    plan: str
    current_version: int | None
    current_currency: str | None
    draft_currency: str
    first: date
    last: date
    as_of: date
    rows: list[SimulationRow]
    totals: SimulationTotals
    current_exceptions: dict[str, int]
    draft_exceptions: dict[str, int]


def read_draft(source: str | Mapping[str, Any]) -> Plan:
    """Validate a draft plan (YAML/JSON text or a parsed document) as quota-service's
    `PUT /plans` does: 422 naming every problem's path under `plan`."""
    try:
        return load_plan(source)
    except PlanInvalid as exc:
        errors = [
            {"field": f"plan.{p.path}" if p.path else "plan", "message": p.message} for p in exc.problems
        ]
        raise invalid(errors, detail="the draft plan is not valid") from exc


def _exceptions_on_plan(result: CalcResult, plan_id: str, inputs: Inputs) -> dict[str, int]:
    people = deal_people(inputs.deals)
    return exception_counts(
        e for e in result.exceptions if exception_on_plan(e, plan_id, inputs.payee_documents, people)
    )


def _component_ids(versions: list[Plan]) -> list[str]:
    """The components of every version that still computes some day, newest first (each once)."""
    live = (
        [piece.plan for piece in version_slices(versions) if piece.credited]
        if len(versions) > 1
        else versions
    )
    return list(dict.fromkeys(c.id for v in reversed(live) for c in v.components))


async def simulate(
    uow: CalcUoW, draft: Plan, first: date, last: date, as_of: date | None = None
) -> Simulation:
    """Per payee and component, the entries dated in [first, last] under the latest stored
    version of `draft.id` and under the draft, for the payees assigned to that plan (the
    ledger's filter), computed over every held input. A plan not stored yet has no current
    totals. The unit of work is only read, never committed."""
    day = as_of or today()
    with cyclic_gc_paused():
        async with uow:
            held = await uow.repos.plans.versions(draft.id)
            inputs = await load_inputs(uow.repos)
        stored = held[-1] if held else None
        versions = held_versions(held)
        current = versions[-1] if versions else None
        # The draft as the next version (what storing it would compute: it governs the
        # periods its `effective` reaches, the held versions the rest); alone when it cannot
        # follow them (another currency, timezone or pay_frequency).
        following = bool(versions) and not succession_problems(versions, draft)
        drafted = draft.model_copy(update={"version": stored.version + 1}) if stored and following else draft
        draft_result = await run_engine([*versions, drafted] if following else draft, inputs, day)
        current_result = None if current is None else await run_engine(versions, inputs, day)

    def totals(result: CalcResult | None) -> dict[tuple[str, str], Any]:
        if result is None:
            return {}
        return range_totals(lines_on_plan(result.lines, draft.id, inputs.payee_documents), first, last)

    comparable = current is None or current.currency == draft.currency
    rows = simulation_rows(
        totals(current_result),
        totals(draft_result),
        _component_ids(versions),
        _component_ids([*versions, draft] if following else [draft]),
        comparable=comparable,
    )
    return Simulation(
        plan=draft.id,
        current_version=None if stored is None else stored.version,
        current_currency=None if current is None else current.currency,
        draft_currency=draft.currency,
        first=first,
        last=last,
        as_of=day,
        rows=rows,
        totals=simulation_totals(rows, comparable=comparable),
        current_exceptions=(
            {} if current_result is None else _exceptions_on_plan(current_result, draft.id, inputs)
        ),
        draft_exceptions=_exceptions_on_plan(draft_result, draft.id, inputs),
    )
