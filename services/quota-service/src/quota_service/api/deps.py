"""Role aliases and settings of quota-service, and the OpenAPI responses of its
create-or-replace routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel

from provisio_common.access import allow
from provisio_common.auth import Principal
from provisio_common.deps import Admin
from provisio_common.problems import problem_responses
from provisio_common.service import runtime_of
from quota_service.settings import QuotaSettings

# Who may call a route, declared once (`access.allow`); the use cases apply the scopes
# (`service_layer/access.py`): a manager their subtree, a rep themselves.
# People's records and figures: everyone-readers, a manager's subtree, a rep's own.
Scoped = Annotated[Principal, Depends(allow("admin", "ops", "payroll", "manager:subtree", "rep:self"))]
# Team figures across members (reconciliation): no rep; a manager's subtree's teams.
TeamReader = Annotated[Principal, Depends(allow("admin", "ops", "payroll", "manager:subtree"))]
# Not people's figures (fx rates).
Reader = Annotated[Principal, Depends(allow("admin", "ops", "manager", "payroll"))]
# Every role, unscoped: territories (regions, not people), `/me` (the caller themselves).
AnyRole = Annotated[Principal, Depends(allow("admin", "ops", "payroll", "manager", "rep"))]

__all__ = ["Admin", "AnyRole", "Reader", "Scoped", "Settings", "TeamReader", "put_responses"]


def put_responses(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a PUT that answers 201 when it creates, 200 otherwise, and these problems."""
    responses = problem_responses(*statuses)
    responses[201] = {"model": model, "description": "Created"}
    return responses


async def quota_settings(request: Request) -> QuotaSettings:
    """The settings of the running quota-service."""
    settings = runtime_of(request).settings
    assert isinstance(settings, QuotaSettings)
    return settings


Settings = Annotated[QuotaSettings, Depends(quota_settings)]
