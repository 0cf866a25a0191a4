"""Payees: `PUT /payees/{id}`, `GET /payees`, `GET /payees/{id}`."""

from __future__ import annotations

from fastapi import APIRouter, Response

from provisio_common.deps import UoW
from provisio_common.events import PayeeRecord
from provisio_common.problems import problem_responses
from quota_service.api.deps import Admin, Scoped, put_responses
from quota_service.domain.payees import PayeeIn
from quota_service.service_layer import payees

router = APIRouter(tags=["payees"])


class PayeeView(PayeeRecord):
    """A payee as stored and published on `payees.v1`."""


@router.put(
    "/payees/{payee_id}",
    status_code=200,
    response_model=PayeeView,
    responses=put_responses(PayeeView, 401, 403, 409, 422),
)
async def put_payee(
    payee_id: str, body: PayeeIn, uow: UoW, principal: Admin, response: Response
) -> PayeeView:
    """Create (201) or replace (200) a payee; publishes the whole payee on `payees.v1`.

    The manager must exist and may not create a loop (422 `manager`); a CRM id belongs
    to one payee only (409 `crm_ids`).

    Roles: admin.
    """
    put = await payees.put_payee(uow, principal, payee_id, body)
    response.status_code = 201 if put.created else 200
    return PayeeView.model_validate(put.value)


@router.get("/payees", response_model=list[PayeeView], responses=problem_responses(401, 403))
async def list_payees(uow: UoW, principal: Scoped) -> list[PayeeView]:
    """The payees the caller may see, by id.

    Roles: admin, ops, payroll (everyone), manager (their subtree), rep (themselves).
    """
    return [PayeeView.model_validate(document) for document in await payees.list_payees(uow, principal)]


@router.get("/payees/{payee_id}", response_model=PayeeView, responses=problem_responses(401, 403, 404))
async def get_payee(payee_id: str, uow: UoW, principal: Scoped) -> PayeeView:
    """One payee.

    Roles: admin, ops, payroll, manager (their subtree), rep (themselves).
    """
    return PayeeView.model_validate(await payees.get_payee(uow, principal, payee_id))
