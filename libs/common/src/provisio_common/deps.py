"""FastAPI dependency aliases every service uses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from provisio_common.access import allow
from provisio_common.auth import Principal
from provisio_common.uow import UnitOfWork


def unit_of_work(request: Request) -> UnitOfWork[Any]:
    """A new unit of work for this request; the use case enters and commits it, so the
    commit happens before the route answers (a 2xx means committed)."""
    uow: UnitOfWork[Any] = request.app.state.runtime.uow()
    return uow


UoW = Annotated[UnitOfWork[Any], Depends(unit_of_work)]
# The caller, admitted by role (`access.allow` declares the roles in the OpenAPI too).
Admin = Annotated[Principal, Depends(allow("admin"))]
Ops = Annotated[Principal, Depends(allow("admin", "ops"))]
