"""Role aliases of quota-service, and the OpenAPI responses of its create-or-replace routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel

from provisio_common.auth import Principal, require_roles
from provisio_common.deps import Admin
from provisio_common.problems import problem_responses

Reader = Annotated[Principal, Depends(require_roles("admin", "ops", "manager", "payroll"))]

__all__ = ["Admin", "Reader", "put_responses"]


def put_responses(model: type[BaseModel], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a PUT that answers 201 when it creates, 200 otherwise, and these problems."""
    responses = problem_responses(*statuses)
    responses[201] = {"model": model, "description": "Created"}
    return responses
