"""Reading the ledger and the exceptions; `POST /recompute` checks the invariant."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query

from calc_engine.adapters.tables import calc_exceptions, ledger
from calc_engine.service_layer.reconcile import reconcile_all
from provisio_common.auth import Principal, require_roles
from provisio_common.deps import Admin, Session
from provisio_common.ids import new_id

router = APIRouter(tags=["ledger"])
Reader = Annotated[Principal, Depends(require_roles("admin", "ops"))]


@router.get("/ledger")
async def list_ledger(
    session: Session,
    principal: Reader,
    payee: str | None = None,
    deal: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    """Ledger entries, oldest first (append-only: corrections are further entries)."""
    query = sa.select(ledger).order_by(ledger.c.seq).limit(limit)
    if payee:
        query = query.where(ledger.c.payee == payee)
    if deal:
        query = query.where(ledger.c.deal == deal)
    return [
        {
            "entry_id": r.entry_id,
            "payee": r.payee,
            "plan": r.plan,
            "plan_version": r.plan_version,
            "component": r.component,
            "period": r.period,
            "entry_date": r.entry_date.isoformat(),
            "pay_period": r.pay_period,
            "amount": str(r.amount),
            "currency": r.currency,
            "cash": r.cash,
            "deal": r.deal,
            "cause_event": r.cause_event,
            "explanation": r.explanation,
            "posted_at": r.posted_at.isoformat(),
        }
        for r in (await session.execute(query)).all()
    ]


@router.get("/exceptions")
async def list_exceptions(session: Session, principal: Reader) -> list[dict[str, Any]]:
    """Inputs the engine could not use (missing quota, missing fx, bad split, unknown payee)."""
    rows = (await session.execute(sa.select(calc_exceptions).order_by(calc_exceptions.c.id))).all()
    return [
        {"plan": r.plan, "kind": r.kind, "payee": r.payee, "deal": r.deal, "detail": r.detail} for r in rows
    ]


@router.post("/recompute")
async def recompute(session: Session, principal: Admin) -> dict[str, Any]:
    """Recompute every plan from its current inputs and post any difference.

    On a consistent ledger this posts nothing: `posted` is 0.
    """
    posted = await reconcile_all(session, cause_event=f"recompute:{new_id()}")
    return {"posted": posted}
