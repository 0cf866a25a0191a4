"""Reading the ledger and the exceptions; `POST /recompute` checks the invariant."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from calc_engine.adapters.peers import Peers
from calc_engine.domain.ledger import LedgerEntry
from calc_engine.domain.model import PlanException
from calc_engine.service_layer.input_check import check_inputs
from calc_engine.service_layer.queries import current_exceptions, ledger_entries
from calc_engine.service_layer.reconcile import recompute
from calc_engine.settings import CalcSettings
from provisio_common.deps import Admin, Ops, UoW
from provisio_common.money import plain_decimal
from provisio_common.problems import Problem, problem_responses
from provisio_common.service import runtime_of

router = APIRouter(tags=["ledger"])


async def calc_settings(request: Request) -> CalcSettings:
    """The settings of the running calc-engine."""
    settings = runtime_of(request).settings
    assert isinstance(settings, CalcSettings)
    return settings


Settings = Annotated[CalcSettings, Depends(calc_settings)]


class LedgerEntryView(BaseModel):
    """One ledger entry: a delta E' - E for (payee, component, period, day, deal)."""

    entry_id: str
    payee: str
    plan: str
    plan_version: int
    component: str
    period: str
    entry_date: str = Field(description="ISO date the entry is dated")
    pay_period: str
    amount: str = Field(description="decimal string, full precision")
    currency: str
    cash: bool
    deal: str | None
    cause_event: str = Field(description="id of the event (or `recompute:<id>`) that posted it")
    explanation: dict[str, Any] = Field(
        description="the line's arithmetic (value, quota, attainment, bands, rate, earned), "
        "`plan_version`, and `deal_credit` for the entry's own deal"
    )
    posted_at: str = Field(description="ISO timestamp of the posting")

    @classmethod
    def of(cls, entry: LedgerEntry) -> LedgerEntryView:
        return cls(
            entry_id=entry.entry_id,
            payee=entry.payee,
            plan=entry.plan,
            plan_version=entry.plan_version,
            component=entry.component,
            period=entry.period,
            entry_date=entry.entry_date.isoformat(),
            pay_period=entry.pay_period,
            amount=plain_decimal(entry.amount),
            currency=entry.currency,
            cash=entry.cash,
            deal=entry.deal,
            cause_event=entry.cause_event,
            explanation=entry.explanation,
            posted_at=entry.posted_at.isoformat(),
        )


class CalcExceptionView(BaseModel):
    """An input a plan could not use: missing_quota, missing_fx, bad_split, unknown_payee."""

    plan: str
    kind: str
    payee: str | None
    deal: str | None
    detail: str

    @classmethod
    def of(cls, exc: PlanException) -> CalcExceptionView:
        return cls(plan=exc.plan, kind=exc.kind, payee=exc.payee, deal=exc.deal, detail=exc.detail)


class InputCheckView(BaseModel):
    """calc-engine's inputs compared with what deal-ingest and quota-service published."""

    checked: bool = Field(description="false when a producer could not be asked (see `reason`)")
    reason: str | None = None
    differences: dict[str, int] = Field(
        description="per kind (deal_revisions, plans, payees, quotas, fx_rates): missing or different here"
    )
    asked_again: bool = Field(description="the producers were asked to publish those keys again")
    healed: bool = Field(description="calc-engine held all it asked for before recomputing")


class Recomputed(BaseModel):
    """What a recompute posted: 0 on a consistent ledger; and what the input check found."""

    posted: int
    inputs: InputCheckView


@router.get("/ledger", response_model=list[LedgerEntryView], responses=problem_responses(401, 403, 422))
async def list_ledger(
    uow: UoW,
    principal: Ops,
    payee: str | None = None,
    deal: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[LedgerEntryView]:
    """Ledger entries, oldest first (append-only: corrections are further entries).

    Roles: admin, ops.
    """
    return [LedgerEntryView.of(e) for e in await ledger_entries(uow, payee=payee, deal=deal, limit=limit)]


@router.get("/exceptions", response_model=list[CalcExceptionView], responses=problem_responses(401, 403))
async def list_exceptions(uow: UoW, principal: Ops) -> list[CalcExceptionView]:
    """Inputs the engine could not use (missing quota, missing fx, bad split, unknown payee).

    Roles: admin, ops.
    """
    return [CalcExceptionView.of(e) for e in await current_exceptions(uow)]


@router.post("/recompute", response_model=Recomputed, responses=problem_responses(401, 403, 409))
async def post_recompute(request: Request, uow: UoW, principal: Admin, settings: Settings) -> Recomputed:
    """First compare calc-engine's inputs with what deal-ingest and quota-service published
    (every deal's published revisions, plan versions, payees, quotas, fx rates; asked with
    the caller's token) and ask them to publish again whatever calc-engine lacks or holds
    differently (`inputs`; metric `provisio_calc_input_differences`); those events then
    flow as any other. Then recompute every plan from the inputs held and post any
    difference (committed before the answer). On a consistent ledger this posts nothing:
    `posted` is 0. 409 when the events asked for have not all arrived within
    `PROVISIO_RECOMPUTE_HEAL_TIMEOUT_S` (nothing is recomputed from inputs known to be
    incomplete). Audited (`ledger.recompute`, with what it posted, the `cause_event` of
    its entries, and the input differences).

    Roles: admin.
    """
    peers = None
    if settings.deal_ingest_url and settings.quota_service_url:
        peers = Peers(
            settings.deal_ingest_url.rstrip("/"),
            settings.quota_service_url.rstrip("/"),
            request.headers.get("Authorization", ""),
        )
    checked = await check_inputs(uow, peers, settings.recompute_heal_timeout_s)
    if not checked.healed:
        raise Problem(
            409,
            f"calc-engine's inputs still differ from what deal-ingest and quota-service published "
            f"{settings.recompute_heal_timeout_s:.0f}s after asking for them again "
            f"({checked.differences}); nothing was recomputed from incomplete inputs; try again",
        )
    posted = await recompute(uow, principal, inputs=checked.differences)
    return Recomputed(posted=posted, inputs=InputCheckView(**dataclasses.asdict(checked)))
