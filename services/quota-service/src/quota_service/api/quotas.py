"""Quotas: `PUT /quotas/{payee}/{period}`, `GET /quotas`, `GET /quotas/{payee}/{period}`."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from provisio_common.deps import UoW
from provisio_common.events import Amount
from provisio_common.money import plain_decimal
from provisio_common.problems import problem_responses
from quota_service.api.deps import Admin, Scoped, put_responses
from quota_service.domain.quotas import Quota
from quota_service.service_layer import quotas

router = APIRouter(tags=["quotas"])


class QuotaIn(BaseModel):
    """The body of `PUT /quotas/{payee}/{period}`: a decimal string."""

    model_config = ConfigDict(extra="forbid")
    amount: Amount


class QuotaView(BaseModel):
    """A payee's quota for a period, in the plan currency."""

    payee: str
    period: str
    amount: str


def quota_view(quota: Quota) -> QuotaView:
    return QuotaView(payee=quota.payee, period=quota.period, amount=plain_decimal(quota.amount))


@router.put(
    "/quotas/{payee}/{period}",
    response_model=QuotaView,
    responses=put_responses(QuotaView, 401, 403, 422),
)
async def put_quota(
    payee: str, period: str, body: QuotaIn, uow: UoW, principal: Admin, response: Response
) -> QuotaView:
    """Set a payee's quota for a period ("2027", "2027-H1", "2027-Q1" or "2027-01"): 201
    when new, 200 when replaced or unchanged; publishes it on `quotas.v1`.

    Roles: admin.
    """
    put = await quotas.put_quota(uow, principal, payee, period, body.amount)
    response.status_code = 201 if put.created else 200
    return quota_view(put.value)


@router.get("/quotas", response_model=list[QuotaView], responses=problem_responses(401, 403))
async def list_quotas(uow: UoW, principal: Scoped, payee: str | None = None) -> list[QuotaView]:
    """The quotas the caller may see, by payee and period; `?payee=` keeps one payee's.

    Roles: admin, ops, payroll (everyone's), manager (their subtree's), rep (their own).
    """
    return [quota_view(q) for q in await quotas.list_quotas(uow, principal, payee)]


@router.get("/quotas/{payee}/{period}", response_model=QuotaView, responses=problem_responses(401, 403, 404))
async def get_quota(payee: str, period: str, uow: UoW, principal: Scoped) -> QuotaView:
    """One payee's quota for one period.

    Roles: admin, ops, payroll, manager (their subtree), rep (themselves).
    """
    return quota_view(await quotas.get_quota(uow, principal, payee, period))
