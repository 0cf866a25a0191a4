"""`POST /estimate`: what a hypothetical deal, or a change to one of the payee's open deals,
would change in their earnings, computed like the ledger and written nowhere."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from calc_engine.domain.estimate import (
    LineChange,
    changed_document,
    fixed_field_errors,
    line_changes,
    new_deal_document,
    people_of,
)
from calc_engine.domain.inputs import Inputs, in_history_order, to_deal
from calc_engine.domain.people import crm_index, resolve_people
from calc_engine.domain.plan_lines import assigned_plans, exception_key, lines_on_plan, managers_of
from calc_engine.domain.plan_versions import held_versions
from calc_engine.domain.scope import affected_periods, close_day_window
from calc_engine.service_layer import CalcUoW
from calc_engine.service_layer.engine_runs import run_engine, today
from calc_engine.service_layer.inputs import load_inputs
from provisio_calc import CalcException, Deal, InputInvalid, Line, Plan
from provisio_common.auth import Principal, ensure_may_see
from provisio_common.events import DealSnapshot, revision_order
from provisio_common.money import exact_sum
from provisio_common.problems import Problem, invalid, validation_errors


@dataclass(frozen=True)
class EstimateRequest:
    """For `payee`: a hypothetical deal (`deal`: deals.v1 fields), or a change (`fields`) to
    the open deal `change_of` (`source:external_id`)."""

    payee: str
    deal: Mapping[str, Any] | None = None
    change_of: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanEstimate:
    """What the revision changes under one plan: the changed lines, their total, and the
    exceptions it adds (a missing quota, fx rate or a bad split: lines that cannot earn)."""

    plan: str
    plan_version: int
    currency: str
    lines: list[LineChange]
    delta: Decimal
    exceptions: list[CalcException]


@dataclass(frozen=True)
class Estimate:
    """The estimate for one payee and one deal revision, as of a day."""

    payee: str
    deal: str
    as_of: date
    plans: list[PlanEstimate]


@dataclass(frozen=True)
class _Revision:
    """The hypothetical revision and the held history of its deal (none for a new deal)."""

    document: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def key(self) -> str:
        return f"{self.document['source']}:{self.document['external_id']}"

    def close_days(self) -> list[str]:
        return [str(d["close_date"]) for d in [*self.history, self.document] if d.get("close_date")]


def _validated(document: Mapping[str, Any], index: dict[str, str], prefix: str) -> dict[str, Any]:
    """The revision as deals.v1 data, checked as calc-engine checks a real one (422 naming
    the field under `prefix`)."""
    try:
        data = DealSnapshot.model_validate(document).to_data()
    except ValidationError as exc:
        raise invalid(validation_errors(exc, prefix=prefix)) from exc
    try:
        to_deal(data, index)
    except InputInvalid as exc:
        raise invalid([{"field": f"{prefix}.{exc.field}", "message": exc.message}]) from exc
    return data


async def _revision(uow: CalcUoW, request: EstimateRequest, index: dict[str, str], as_of: date) -> _Revision:
    if request.change_of is None:
        assert request.deal is not None
        document = new_deal_document(request.deal, request.payee, as_of)
        return _Revision(_validated(document, index, "deal"), [])
    history = await uow.repos.deals.history(request.change_of)
    current = max(history, key=revision_order) if history else None
    if current is None or request.payee not in people_of(resolve_people(current, index)):
        # The same answer whether the deal is unknown or someone else's: nothing leaks.
        raise Problem(404, f"payee {request.payee!r} has no deal {request.change_of!r}")
    if current["status"] != "open":
        raise Problem(409, f"deal {request.change_of!r} is {current['status']}; only an open deal can change")
    errors = fixed_field_errors(request.fields, "change.fields")
    if errors:
        raise invalid(errors)
    document = changed_document(history, request.fields, as_of)
    return _Revision(_validated(document, index, "change.fields"), history)


def _deals_with(inputs: Inputs, revision: _Revision, index: dict[str, str]) -> list[Deal]:
    """The run's deals with the hypothetical revision added to its deal's history (numbered
    in history order, as `load_inputs` numbers every deal's revisions)."""
    documents = in_history_order([*revision.history, revision.document])
    return [d for d in inputs.deals if d.key != revision.key] + [to_deal(d, index) for d in documents]


@dataclass(frozen=True)
class _PlanRun:
    """One plan's version and the inputs of the periods the revision touches."""

    plan_id: str
    version: int
    versions: list[Plan]  # every held version, oldest first (the newest names the run)
    scope: set[str] | None
    inputs: Inputs


async def _plan_run(uow: CalcUoW, plan_id: str, revision: _Revision) -> _PlanRun | None:
    held = await uow.repos.plans.versions(plan_id)
    if not held:
        return None
    versions = held_versions(held)
    scope = affected_periods(versions, revision.close_days())
    inputs = await load_inputs(uow.repos, None if scope is None else close_day_window(scope))
    return _PlanRun(plan_id, held[-1].version, versions, scope, inputs)


async def _plan_estimate(run: _PlanRun, payee: str, revision: _Revision, as_of: date) -> PlanEstimate:
    plan, inputs = run.versions[-1], run.inputs
    index = crm_index(inputs.payee_documents.values())
    before = await run_engine(run.versions, inputs, as_of)
    after = await run_engine(run.versions, inputs, as_of, deals=_deals_with(inputs, revision, index))

    def payee_lines(lines: list[Line]) -> list[Line]:
        kept = lines_on_plan(lines, run.plan_id, inputs.payee_documents, payee=payee)
        return [line for line in kept if run.scope is None or line.period in run.scope]

    changes = line_changes(run.versions, payee_lines(before.lines), payee_lines(after.lines))
    # The version that computes the changed lines (the newest if they span several).
    changed = {(c.component, c.period) for c in changes}
    used = {
        line.explanation.get("plan_version")
        for line in payee_lines(after.lines) + payee_lines(before.lines)
        if (line.component, line.period) in changed
    }
    version = used.pop() if len(used) == 1 else run.version
    known = {exception_key(e) for e in before.exceptions}
    added = [
        e
        for e in after.exceptions
        if exception_key(e) not in known and (e.payee == payee or e.deal == revision.key)
    ]
    delta = exact_sum(change.delta for change in changes)
    return PlanEstimate(
        run.plan_id,
        version if isinstance(version, int) else run.version,
        plan.currency,
        changes,
        delta,
        added,
    )


async def estimate(
    uow: CalcUoW, principal: Principal, request: EstimateRequest, as_of: date | None = None
) -> Estimate:
    """Earnings before and after the hypothetical revision under every plan the payee is
    assigned to, from the inputs the ledger uses; nothing is written (the unit of work is
    never committed). 403 unless the caller may see the payee; 404 for an unknown payee or
    a deal that is not theirs; 409 for a deal that is not open; 422 for a bad revision."""
    day = as_of or today()
    async with uow:
        payees = await uow.repos.payees.documents()
        ensure_may_see(principal, request.payee, managers_of(payees))
        if request.payee not in payees:
            raise Problem(404, f"no payee {request.payee!r}")
        index = crm_index(payees.values())
        revision = await _revision(uow, request, index, day)
        runs = [await _plan_run(uow, plan_id, revision) for plan_id in assigned_plans(payees[request.payee])]
    plans = [await _plan_estimate(run, request.payee, revision, day) for run in runs if run is not None]
    return Estimate(request.payee, revision.key, day, plans)
