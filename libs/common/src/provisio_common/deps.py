"""FastAPI dependency aliases every service uses.

Dependencies that only read the app's state are `async def`: FastAPI runs a plain `def`
dependency in its thread pool, a thread hop per request (about a tenth of a webhook's CPU
on a 2-core VM). `auth.current_principal` stays a plain `def`: with RS256 it may fetch
the JWKS over the network, which must not block the event loop."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from provisio_common.access import allow
from provisio_common.auth import Principal
from provisio_common.uow import UnitOfWork


async def unit_of_work(request: Request) -> UnitOfWork[Any]:
    """A new unit of work for this request; the use case enters and commits it, so the
    commit happens before the route answers (a 2xx means committed)."""
    uow: UnitOfWork[Any] = request.app.state.runtime.uow()
    return uow


UoW = Annotated[UnitOfWork[Any], Depends(unit_of_work)]
# The caller, admitted by role (`access.allow` declares the roles in the OpenAPI too).
Admin = Annotated[Principal, Depends(allow("admin"))]
Ops = Annotated[Principal, Depends(allow("admin", "ops"))]
