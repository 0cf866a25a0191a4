"""FastAPI dependency aliases every service uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from provisio_common.auth import Principal, require_roles
from provisio_common.service import runtime_of


async def transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, else rolled back."""
    async with runtime_of(request).sessions.begin() as session:
        yield session


Session = Annotated[AsyncSession, Depends(transaction)]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Ops = Annotated[Principal, Depends(require_roles("admin", "ops"))]
