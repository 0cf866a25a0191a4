"""FX rates: `PUT /fx-rates/{day}/{from}/{to}` — 1 `from` = `rate` `to` from `day` on."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from provisio_common.deps import UoW
from provisio_common.events import Amount
from provisio_common.money import plain_decimal
from provisio_common.problems import problem_responses
from quota_service.api.deps import Admin, Reader, put_responses
from quota_service.domain.fx import FxRate
from quota_service.service_layer import fx

router = APIRouter(tags=["fx"])


class FxRateIn(BaseModel):
    """The body of `PUT /fx-rates/{day}/{from}/{to}`: a positive decimal string."""

    model_config = ConfigDict(extra="forbid")
    rate: Amount


class FxRateView(BaseModel):
    """1 `from` = `rate` `to` from `day` on."""

    model_config = ConfigDict(populate_by_name=True)

    day: date
    from_: str = Field(alias="from")
    to: str
    rate: str


def _view(rate: FxRate) -> FxRateView:
    return FxRateView(day=rate.day, from_=rate.source, to=rate.target, rate=plain_decimal(rate.rate))


@router.put(
    "/fx-rates/{day}/{source}/{target}",
    response_model=FxRateView,
    responses=put_responses(FxRateView, 401, 403, 422),
)
async def put_fx_rate(
    day: date,
    source: str,
    target: str,
    body: FxRateIn,
    uow: UoW,
    principal: Admin,
    response: Response,
) -> FxRateView:
    """Set the rate from `day` on (201 when new, 200 otherwise); publishes it on `fxrates.v1`.
    calc-engine converts a deal at the latest rate on or before its close day.

    Roles: admin.
    """
    put = await fx.put_fx_rate(uow, principal, day, source, target, body.rate)
    response.status_code = 201 if put.created else 200
    return _view(put.value)


@router.get("/fx-rates", response_model=list[FxRateView], responses=problem_responses(401, 403))
async def list_fx_rates(uow: UoW, principal: Reader) -> list[FxRateView]:
    """Every rate, by day and source currency.

    Roles: admin, ops, manager, payroll.
    """
    return [_view(rate) for rate in await fx.list_fx_rates(uow)]
