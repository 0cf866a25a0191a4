"""Plans: `PUT /plans/{id}` (YAML or JSON), `GET /plans`, `GET /plans/{id}`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from provisio_common.deps import UoW
from provisio_common.params import Version
from provisio_common.problems import Problem, invalid, problem_responses
from quota_service.api.deps import Admin, Scoped, put_responses
from quota_service.domain.plans import FieldChange, StoredPlanVersion
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
async def list_plans(uow: UoW, principal: Scoped) -> list[PlanVersionView]:
    """The plans the caller may see, each at its latest version.

    Roles: admin, ops, payroll (every plan), manager (plans of their subtree), rep (their plans).
    """
    return [_view(stored) for stored in await plans.list_plans(uow, principal)]


@router.get(
    "/plans/{plan_id}", response_model=PlanVersionView, responses=problem_responses(401, 403, 404, 422)
)
async def get_plan(
    plan_id: str, uow: UoW, principal: Scoped, version: Version | None = None
) -> PlanVersionView:
    """The latest version of a plan, or `?version=N`.

    Roles: admin, ops, payroll, manager (a plan someone in their subtree is assigned to),
    rep (a plan they are assigned to).
    """
    return _view(await plans.get_plan(uow, principal, plan_id, version))


class FieldChangeView(BaseModel):
    """One changed field: its path and its values before and after (null where absent)."""

    model_config = ConfigDict(populate_by_name=True)

    field: str
    from_: Any = Field(alias="from")
    to: Any


class ComponentChangeView(BaseModel):
    """A component present in both versions, and its changed fields."""

    id: str
    fields: list[FieldChangeView]


class PlanDiffView(BaseModel):
    """What changed between two versions of a plan."""

    plan_id: str
    from_version: int
    to_version: int
    fields: list[FieldChangeView]
    components_added: list[str]
    components_removed: list[str]
    components_changed: list[ComponentChangeView]


def _changes(changes: list[FieldChange]) -> list[FieldChangeView]:
    return [FieldChangeView(field=c.field, from_=c.before, to=c.after) for c in changes]


@router.get(
    "/plans/{plan_id}/diff",
    response_model=PlanDiffView,
    response_model_by_alias=True,
    responses=problem_responses(401, 403, 404, 422),
)
async def diff_plan(
    plan_id: str,
    uow: UoW,
    principal: Scoped,
    from_version: Annotated[Version | None, Query(alias="from")] = None,
    to_version: Annotated[Version | None, Query(alias="to")] = None,
) -> PlanDiffView:
    """What changed from version `from` to version `to` (defaults: the latest, and the one
    before it): components added and removed (by id), each changed component's fields
    (`tiers.bands[1].rate`), and the plan's own fields (`effective.to`, `currency`).

    Roles: admin, ops, payroll, manager (a plan of their subtree), rep (their plans).
    """
    diff = await plans.diff_plan(uow, principal, plan_id, from_version, to_version)
    return PlanDiffView(
        plan_id=diff.plan_id,
        from_version=diff.from_version,
        to_version=diff.to_version,
        fields=_changes(diff.fields),
        components_added=diff.components_added,
        components_removed=diff.components_removed,
        components_changed=[
            ComponentChangeView(id=cid, fields=_changes(changes))
            for cid, changes in diff.components_changed.items()
        ],
    )
