"""Role aliases and settings of quota-service, and the OpenAPI responses of its
create-or-replace routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel

from provisio_common.auth import CurrentPrincipal, Principal, require_roles
from provisio_common.deps import Admin
from provisio_common.problems import problem_responses
from provisio_common.service import runtime_of
from quota_service.settings import QuotaSettings

Reader = Annotated[Principal, Depends(require_roles("admin", "ops", "manager", "payroll"))]
AnyRole = CurrentPrincipal

__all__ = ["Admin", "AnyRole", "Reader", "Settings", "put_responses"]


def put_responses(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a PUT that answers 201 when it creates, 200 otherwise, and these problems."""
    responses = problem_responses(*statuses)
    responses[201] = {"model": model, "description": "Created"}
    return responses


def quota_settings(request: Request) -> QuotaSettings:
    """The settings of the running quota-service."""
    settings = runtime_of(request).settings
    assert isinstance(settings, QuotaSettings)
    return settings


Settings = Annotated[QuotaSettings, Depends(quota_settings)]
