"""Audit trail: every state-changing request records who, what, when, before and after."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from provisio_common.auth import Principal
from provisio_common.logging import request_id_var


async def record_audit(
    session: AsyncSession,
    table: sa.Table,
    principal: Principal,
    action: str,
    entity: str,
    before: Any,
    after: Any,
) -> None:
    """Append one audit row in the same transaction as the change it describes."""
    await session.execute(
        table.insert().values(
            actor=principal.sub,
            role=principal.role,
            action=action,
            entity=entity,
            before=before,
            after=after,
            request_id=request_id_var.get(),
        )
    )
