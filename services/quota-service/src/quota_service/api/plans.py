"""Plans: `PUT /plans/{id}` (YAML or JSON), `GET /plans`, `GET /plans/{id}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from provisio_common.deps import UoW
from provisio_common.problems import Problem, invalid, problem_responses
from quota_service.api.deps import Admin, Reader, put_responses
from quota_service.domain.plans import StoredPlanVersion
from quota_service.service_layer import plans

router = APIRouter(tags=["plans"])

PLAN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
MAX_PLAN_BYTES = 256 * 1024


class PlanVersionView(BaseModel):
    """One stored version of a plan: its normalized document."""

    plan_id: str
    version: int
    created_at: str
    created_by: str
    document: dict[str, Any]


def _view(stored: StoredPlanVersion) -> PlanVersionView:
    return PlanVersionView(
        plan_id=stored.plan_id,
        version=stored.version,
        created_at=stored.created_at.isoformat(),
        created_by=stored.created_by,
        document=stored.document,
    )


@router.put(
    "/plans/{plan_id}",
    openapi_extra=PLAN_BODY,
    response_model=PlanVersionView,
    responses=put_responses(PlanVersionView, 401, 403, 413, 422),
)
async def put_plan(
    plan_id: str, request: Request, uow: UoW, principal: Admin, response: Response
) -> PlanVersionView:
    """Store a new version of a plan (201), or 200 with the current version if unchanged.

    The whole document is validated first; a bad plan is refused with every problem,
    each naming its path (`components[2].tiers.bands[1].to`).

    Roles: admin.
    """
    raw = await request.body()
    if len(raw) > MAX_PLAN_BYTES:
        raise Problem(413, f"plan documents are limited to {MAX_PLAN_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid([{"field": "body", "message": "not UTF-8 text"}]) from exc
    put = await plans.put_plan(uow, principal, plan_id, text)
    response.status_code = 201 if put.created else 200
    return _view(put.value)


@router.get("/plans", response_model=list[PlanVersionView], responses=problem_responses(401, 403))
async def list_plans(uow: UoW, principal: Reader) -> list[PlanVersionView]:
    """Every plan at its latest version.

    Roles: admin, ops, manager, payroll.
    """
    return [_view(stored) for stored in await plans.list_plans(uow)]


@router.get(
    "/plans/{plan_id}", response_model=PlanVersionView, responses=problem_responses(401, 403, 404, 422)
)
async def get_plan(plan_id: str, uow: UoW, principal: Reader, version: int | None = None) -> PlanVersionView:
    """The latest version of a plan, or `?version=N`.

    Roles: admin, ops, manager, payroll.
    """
    return _view(await plans.get_plan(uow, plan_id, version))
