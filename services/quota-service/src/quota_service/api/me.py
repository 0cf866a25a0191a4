"""`GET /me`: the caller's own payee record, manager, plans, quotas, targets and teams."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel

from provisio_common.deps import UoW
from provisio_common.problems import problem_responses
from quota_service.api.deps import AnyRole
from quota_service.api.payees import PayeeView
from quota_service.api.quotas import QuotaView, quota_view
from quota_service.api.targets import TargetView, target_view
from quota_service.service_layer import me

router = APIRouter(tags=["me"])


class ManagerView(BaseModel):
    """The caller's manager."""

    id: str
    name: str


class MyPlanView(BaseModel):
    """One of the caller's assignments and the plan's latest version (null if not stored)."""

    plan: str
    valid_from: date | None
    valid_to: date | None
    version: int | None
    name: str | None
    currency: str | None


class MeView(BaseModel):
    """Who the caller is, their manager, plans, quotas, targets and teams."""

    payee: PayeeView
    manager: ManagerView | None
    plans: list[MyPlanView]
    quotas: list[QuotaView]
    targets: list[TargetView]
    teams: list[str]


@router.get("/me", response_model=MeView, responses=problem_responses(401, 404))
async def get_me(uow: UoW, principal: AnyRole) -> MeView:
    """The payee whose id is the token's `sub` (404 for a caller who is not a payee): their
    record, their manager, the plans they are assigned to, their quotas and targets, and
    the teams they lead or are in.

    Roles: any (about themselves).
    """
    mine = await me.me(uow, principal)
    manager = mine.manager
    return MeView(
        payee=PayeeView.model_validate(mine.payee),
        manager=None if manager is None else ManagerView(id=manager["id"], name=manager["name"]),
        plans=[
            MyPlanView(
                plan=str(p.assignment["plan"]),
                valid_from=p.assignment.get("valid_from"),
                valid_to=p.assignment.get("valid_to"),
                version=None if p.plan is None else p.plan.version,
                name=None if p.plan is None else p.plan.document.get("name"),
                currency=None if p.plan is None else p.plan.document.get("currency"),
            )
            for p in mine.plans
        ],
        quotas=[quota_view(q) for q in mine.quotas],
        targets=[target_view(t) for t in mine.targets],
        teams=mine.teams,
    )
