"""What quota-service has published, for `POST /recompute` of calc-engine to compare with
its replica, and publishing chosen keys again (`provisio_common.inputs`)."""

from __future__ import annotations

from fastapi import APIRouter

from provisio_common.deps import Admin, Ops, UoW
from provisio_common.inputs import ReferenceSummary, Republished, RepublishRequest
from provisio_common.problems import problem_responses
from quota_service.service_layer import published

router = APIRouter(tags=["admin"])


@router.get("/admin/published", response_model=ReferenceSummary, responses=problem_responses(401, 403))
async def get_published(uow: UoW, principal: Ops) -> ReferenceSummary:
    """Every plan's versions, a digest of every payee's `payees.v1` record, every quota and
    fx rate: what calc-engine's replica must hold. calc-engine's `POST /recompute` reads it.

    Roles: admin, ops.
    """
    return await published.summary(uow)


@router.post("/admin/republish", response_model=Republished, responses=problem_responses(401, 403, 422))
async def post_republish(request: RepublishRequest, uow: UoW, principal: Admin) -> Republished:
    """Publish again the current state of the keys named (a quota or fx rate no longer held
    is published as deleted): heals a replica that lost an event. Consumers apply a state
    they already hold as a no-op. Audited (`inputs.republish`).

    Roles: admin.
    """
    return await published.republish(uow, principal, request)
