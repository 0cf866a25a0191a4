"""What-if and insight, read-only: `POST /estimate` (a rep's hypothetical deal), `POST /simulate`
(a draft plan against history) and `GET /explain/{payee}/{period}` (each line's arithmetic)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from calc_engine.domain.estimate import BandCrossing, LimitCrossing, LineChange
from calc_engine.domain.explain import arithmetic
from calc_engine.domain.simulation import SimulationRow
from calc_engine.service_layer.estimate import Estimate, EstimateRequest, PlanEstimate, estimate
from calc_engine.service_layer.explain import explain
from calc_engine.service_layer.simulation import read_draft, simulate
from provisio_calc import CalcException, Line
from provisio_common.access import allow
from provisio_common.auth import Principal
from provisio_common.deps import Admin, UoW
from provisio_common.events import Amount, DateOrTimestamp, DealLine, DealStatus, DealType, Split
from provisio_common.money import format_amount
from provisio_common.problems import Problem, problem_responses

router = APIRouter(tags=["insight"])

# Who may call the insight routes (`access.allow`); the use cases apply the scopes
# (`ensure_may_see`): a manager their subtree, a rep themselves.
Estimator = Annotated[Principal, Depends(allow("admin", "manager:subtree", "rep:self"))]
Explainer = Annotated[Principal, Depends(allow("admin", "ops", "payroll", "manager:subtree", "rep:self"))]


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format_amount(value)


# ---------------------------------------------------------------------------- POST /estimate


class HypotheticalDeal(BaseModel):
    """A deal that does not exist: `deals.v1` fields (amounts as decimal strings)."""

    model_config = ConfigDict(extra="forbid")

    amount: Amount
    currency: str = Field(description="ISO 4217 code")
    close_date: DateOrTimestamp | None = Field(default=None, description="default: today")
    status: DealStatus | None = Field(default=None, description="default: won")
    owner: str | None = Field(default=None, description="payee id or CRM reference; default: the payee")
    splits: list[Split] = Field(default_factory=list)
    lines: list[DealLine] = Field(default_factory=list)
    type: DealType | None = None
    territory: str | None = None
    created_date: DateOrTimestamp | None = None
    customer: str | None = None
    lead_source: str | None = None


class DealChange(BaseModel):
    """A change to one of the payee's open deals: the fields that change (`deals.v1` names)."""

    model_config = ConfigDict(extra="forbid")

    deal: str = Field(min_length=1, description="`source:external_id` of an open deal of the payee")
    fields: dict[str, Any] = Field(
        description="changed `deals.v1` fields (amount, close_date, status, splits, lines, type, ...); "
        "status defaults to won, close_date to the deal's expected one"
    )


class EstimateIn(BaseModel):
    """Exactly one of `deal` (hypothetical) or `change` (to an open deal), for `payee`."""

    model_config = ConfigDict(extra="forbid")

    payee: str | None = Field(default=None, description="default: the caller")
    deal: HypotheticalDeal | None = None
    change: DealChange | None = None

    @model_validator(mode="after")
    def _one_of(self) -> EstimateIn:
        if (self.deal is None) == (self.change is None):
            raise ValueError("give exactly one of `deal` (a hypothetical deal) or `change` (to an open deal)")
        return self


class BandCrossingView(BaseModel):
    """A tier band the value entered (`up`) or left (`down`); bounds as the plan writes them."""

    model_config = ConfigDict(populate_by_name=True)

    band: int
    basis: str = Field(description="attainment: bounds in % of quota; value: in currency")
    from_: str = Field(alias="from")
    to: str | None
    rate: str | None
    multiplier: str | None
    direction: Literal["up", "down"]

    @classmethod
    def of(cls, crossing: BandCrossing) -> BandCrossingView:
        return cls(
            band=crossing.band,
            basis=crossing.basis,
            from_=format_amount(crossing.lower),
            to=_amount(crossing.upper),
            rate=_amount(crossing.rate),
            multiplier=_amount(crossing.multiplier),
            direction=crossing.direction,
        )


class LimitCrossingView(BaseModel):
    """A threshold or bonus bar (at: %) now met (`up`) or no longer (`down`); a cap (at:
    amount) now applied (`up`) or no longer (`down`)."""

    kind: Literal["threshold", "bar", "cap"]
    at: str
    direction: Literal["up", "down"]

    @classmethod
    def of(cls, crossing: LimitCrossing) -> LimitCrossingView:
        return cls(kind=crossing.kind, at=format_amount(crossing.at), direction=crossing.direction)


class LineChangeView(BaseModel):
    """One (component, period) of the payee before and after; decimals as plain strings,
    attainment in % (null without a quota)."""

    component: str
    period: str
    cash: bool
    value_before: str
    value_after: str
    attainment_before: str | None
    attainment_after: str | None
    earned_before: str
    earned_after: str
    delta: str
    bands_crossed: list[BandCrossingView]
    limits_crossed: list[LimitCrossingView]

    @classmethod
    def of(cls, change: LineChange) -> LineChangeView:
        return cls(
            component=change.component,
            period=change.period,
            cash=change.cash,
            value_before=format_amount(change.value_before),
            value_after=format_amount(change.value_after),
            attainment_before=_amount(change.attainment_before),
            attainment_after=_amount(change.attainment_after),
            earned_before=format_amount(change.earned_before),
            earned_after=format_amount(change.earned_after),
            delta=format_amount(change.delta),
            bands_crossed=[BandCrossingView.of(c) for c in change.bands_crossed],
            limits_crossed=[LimitCrossingView.of(c) for c in change.limits_crossed],
        )


class ExceptionView(BaseModel):
    """An input the engine could not use (missing_quota, missing_fx, bad_split, unknown_payee)."""

    plan: str
    kind: str
    payee: str | None
    deal: str | None
    detail: str

    @classmethod
    def of(cls, plan: str, exc: CalcException) -> ExceptionView:
        return cls(plan=plan, kind=exc.kind, payee=exc.payee, deal=exc.deal, detail=exc.detail)


class PlanEstimateView(BaseModel):
    """Under one plan: the lines that change, their total `delta`, and the exceptions the
    revision adds (why a line that should change cannot earn)."""

    plan: str
    plan_version: int
    currency: str
    delta: str
    lines: list[LineChangeView]
    exceptions: list[ExceptionView]

    @classmethod
    def of(cls, found: PlanEstimate) -> PlanEstimateView:
        return cls(
            plan=found.plan,
            plan_version=found.plan_version,
            currency=found.currency,
            delta=format_amount(found.delta),
            lines=[LineChangeView.of(c) for c in found.lines],
            exceptions=[ExceptionView.of(found.plan, e) for e in found.exceptions],
        )


class EstimateView(BaseModel):
    """The estimate: per plan the payee is assigned to, what the revision changes."""

    payee: str
    deal: str = Field(description="the deal estimated (`estimate:hypothetical` for a new one)")
    as_of: str
    plans: list[PlanEstimateView]

    @classmethod
    def of(cls, found: Estimate) -> EstimateView:
        return cls(
            payee=found.payee,
            deal=found.deal,
            as_of=found.as_of.isoformat(),
            plans=[PlanEstimateView.of(p) for p in found.plans],
        )


@router.post("/estimate", response_model=EstimateView, responses=problem_responses(401, 403, 404, 409, 422))
async def post_estimate(body: EstimateIn, uow: UoW, principal: Estimator) -> EstimateView:
    """What a hypothetical deal (`deal`), or a change to one of the payee's open deals
    (`change`), would change in their earnings: per plan and (component, period) the value,
    attainment and earnings before and after, the delta, and the tier bands, threshold,
    bonus bar or cap crossed. Computed from the inputs the ledger uses; nothing is written.

    Roles: rep (themselves), manager (their subtree), admin (anyone).
    """
    request = EstimateRequest(
        payee=body.payee or principal.sub,
        deal=None if body.deal is None else body.deal.model_dump(mode="json", exclude_none=True),
        change_of=None if body.change is None else body.change.deal,
        fields={} if body.change is None else body.change.fields,
    )
    return EstimateView.of(await estimate(uow, principal, request))


# ---------------------------------------------------------------------------- POST /simulate


class SimulateIn(BaseModel):
    """A draft plan (never stored) and the days whose entries are totalled (inclusive)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    plan: dict[str, Any] | str = Field(
        description="the draft plan document (a JSON object, numbers read from their text), "
        "or its YAML or JSON text"
    )
    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> SimulateIn:
        if self.to < self.from_:
            raise ValueError("`to` must not be before `from`")
        return self


class SimulationRowView(BaseModel):
    """One payee and component: totals under the current version and the draft (null when
    that version has no such component) and draft - current (null across currencies)."""

    payee: str
    component: str
    current: str | None
    draft: str | None
    difference: str | None

    @classmethod
    def of(cls, row: SimulationRow) -> SimulationRowView:
        return cls(
            payee=row.payee,
            component=row.component,
            current=_amount(row.current),
            draft=_amount(row.draft),
            difference=_amount(row.difference),
        )


class SimulationTotalsView(BaseModel):
    """The column totals."""

    current: str
    draft: str
    difference: str | None


class SimulationView(BaseModel):
    """The draft against the current version of the plan with its id."""

    model_config = ConfigDict(populate_by_name=True)

    plan: str
    current_version: int | None = Field(description="null: no version of this plan is stored")
    current_currency: str | None
    draft_currency: str
    from_: str = Field(alias="from")
    to: str
    as_of: str
    rows: list[SimulationRowView]
    totals: SimulationTotalsView
    exceptions: dict[str, dict[str, int]] = Field(
        description="per version (`current`, `draft`), the count of exceptions by kind"
    )


MAX_BODY_BYTES = 256 * 1024  # as quota-service's `PUT /plans`


async def _draft_source(request: Request, body: SimulateIn) -> dict[str, Any] | str:
    """The draft as sent: a JSON object is read again from the body's text so its numbers are
    Decimals, never floats (PLANS.md rule 4), as quota-service reads `PUT /plans`."""
    if len(await request.body()) > MAX_BODY_BYTES:
        raise Problem(413, f"simulation requests are limited to {MAX_BODY_BYTES} bytes")
    if isinstance(body.plan, str):
        return body.plan
    document: dict[str, Any] = json.loads(await request.body(), parse_float=Decimal)["plan"]
    return document


@router.post("/simulate", response_model=SimulationView, responses=problem_responses(401, 403, 413, 422))
async def post_simulate(body: SimulateIn, request: Request, uow: UoW, principal: Admin) -> SimulationView:
    """Try a draft plan against history without storing it: per payee and component, the
    entries dated in [`from`, `to`] under the current version of the plan with the draft's
    id and under the draft, and the difference, over every input calc-engine holds. A bad
    draft is refused with every problem, each naming its path (`plan.components[0].rate`).

    Roles: admin.
    """
    draft = read_draft(await _draft_source(request, body))
    found = await simulate(uow, draft, body.from_, body.to)
    return SimulationView(
        plan=found.plan,
        current_version=found.current_version,
        current_currency=found.current_currency,
        draft_currency=found.draft_currency,
        from_=found.first.isoformat(),
        to=found.last.isoformat(),
        as_of=found.as_of.isoformat(),
        rows=[SimulationRowView.of(r) for r in found.rows],
        totals=SimulationTotalsView(
            current=format_amount(found.totals.current),
            draft=format_amount(found.totals.draft),
            difference=_amount(found.totals.difference),
        ),
        exceptions={"current": found.current_exceptions, "draft": found.draft_exceptions},
    )


# ---------------------------------------------------------------------------- GET /explain


class ExplainedLineView(BaseModel):
    """One line as `provisio calc --explain` shows it: the `lines` fields of the json output,
    the full `explanation` (credits and dated entries included) and its `arithmetic` text."""

    plan: str
    plan_version: int
    currency: str
    payee: str
    component: str
    period: str
    value: str
    attainment: str | None
    earned: str
    cash: bool
    explanation: dict[str, Any]
    arithmetic: list[str]

    @classmethod
    def of(cls, plan: str, version: int, currency: str, line: Line) -> ExplainedLineView:
        named = line.explanation.get("plan_version")  # the version that computed the line
        return cls(
            plan=plan,
            plan_version=named if isinstance(named, int) else version,
            currency=currency,
            payee=line.payee,
            component=line.component,
            period=line.period,
            value=format_amount(line.value),
            attainment=_amount(line.attainment),
            earned=format_amount(line.earned),
            cash=line.cash,
            explanation=line.explanation,
            arithmetic=arithmetic(line.explanation),
        )


class ExplainView(BaseModel):
    """Every line of the payee whose period overlaps the one asked, and the exceptions that
    kept a line from being computed (a missing quota, say)."""

    payee: str
    period: str
    as_of: str
    lines: list[ExplainedLineView]
    exceptions: list[ExceptionView]


@router.get(
    "/explain/{payee}/{period}", response_model=ExplainView, responses=problem_responses(401, 403, 404, 422)
)
async def get_explain(payee: str, period: str, uow: UoW, principal: Explainer) -> ExplainView:
    """Every line of the payee in the period (`2027`, `2027-H1`, `2027-Q1`, `2027-01`; a line
    whose measurement period overlaps it) under each plan they are assigned to, with its
    arithmetic, as the engine computes it now from the inputs the ledger uses.

    Roles: rep (themselves), manager (their subtree), admin, ops, payroll (anyone).
    """
    found = await explain(uow, principal, payee, period)
    return ExplainView(
        payee=found.payee,
        period=found.period,
        as_of=found.as_of.isoformat(),
        lines=[
            ExplainedLineView.of(p.plan, p.plan_version, p.currency, line)
            for p in found.plans
            for line in p.lines
        ],
        exceptions=[ExceptionView.of(p.plan, e) for p in found.plans for e in p.exceptions],
    )
