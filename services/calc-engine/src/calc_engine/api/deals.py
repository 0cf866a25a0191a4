"""`GET /deals`: which revision of each deal calc-engine holds (for ops and tooling)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends

from calc_engine.adapters.tables import deals
from provisio_common.auth import Principal, require_roles
from provisio_common.deps import Session

router = APIRouter(tags=["deals"])
Reader = Annotated[Principal, Depends(require_roles("admin", "ops"))]


@router.get("/deals")
async def held_deals(session: Session, principal: Reader) -> list[dict[str, Any]]:
    """Every deal with the revision and status calc-engine has applied."""
    rows = (await session.execute(sa.select(deals).order_by(deals.c.deal))).all()
    return [{"deal": r.deal, "revision": r.revision, "status": r.status} for r in rows]
