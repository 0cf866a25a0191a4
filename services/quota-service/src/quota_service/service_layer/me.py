"""`GET /me`: who the caller is as a payee, their manager, plans, quotas, targets and teams."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisio_common.auth import Principal
from provisio_common.problems import Problem
from quota_service.domain.plans import StoredPlanVersion
from quota_service.domain.quotas import Quota
from quota_service.domain.targets import Target
from quota_service.service_layer.changes import QuotaUoW


@dataclass(frozen=True)
class AssignedPlan:
    """One assignment of the caller and the plan's latest version (None if not stored)."""

    assignment: dict[str, Any]
    plan: StoredPlanVersion | None


@dataclass(frozen=True)
class Me:
    """The caller's own records."""

    payee: dict[str, Any]
    manager: dict[str, Any] | None
    plans: list[AssignedPlan]
    quotas: list[Quota]
    targets: list[Target]
    teams: list[str]


async def me(uow: QuotaUoW, principal: Principal) -> Me:
    """The payee whose id is the token's `sub`; 404 when the caller is not a payee (a client)."""
    async with uow:
        payee = await uow.repos.payees.document(principal.sub)
        if payee is None:
            raise Problem(404, f"{principal.sub!r} is not a payee")
        manager = None if payee.get("manager") is None else await uow.repos.payees.document(payee["manager"])
        plans = [
            AssignedPlan(assignment, await uow.repos.plans.latest(str(assignment["plan"])))
            for assignment in payee.get("assignments") or []
        ]
        quotas = await uow.repos.quotas.find(principal.sub)
        targets = await uow.repos.targets.find([f"payee:{principal.sub}"])
        teams = [t.id for t in await uow.repos.teams.all() if principal.sub in t.people]
    return Me(payee, manager, plans, quotas, targets, teams)
