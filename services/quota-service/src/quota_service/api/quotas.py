"""Quotas: one amount per payee and period, in the plan currency."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects.postgresql import insert

from provisio_common.audit import record_audit
from provisio_common.events import Amount, QuotaRecord, envelope
from provisio_common.outbox import add_to_outbox
from provisio_common.problems import Problem, invalid
from provisio_common.topics import QUOTAS
from quota_service.adapters.tables import audit, outbox, payees, quotas
from quota_service.api.deps import Admin, Reader, Session
from quota_service.domain.periods import is_period

router = APIRouter(tags=["quotas"])


class QuotaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Amount


def _view(payee: str, period: str, amount: Any) -> dict[str, Any]:
    return {"payee": payee, "period": period, "amount": str(amount)}


@router.put("/quotas/{payee}/{period}")
async def put_quota(
    payee: str, period: str, body: QuotaIn, session: Session, principal: Admin, response: Response
) -> dict[str, Any]:
    """Set a payee's quota for a period ("2027", "2027-H1", "2027-Q1" or "2027-01")."""
    if not is_period(period):
        raise invalid([{"field": "period", "message": "use 2027, 2027-H1, 2027-Q1 or 2027-01"}])
    if body.amount < 0:
        raise invalid([{"field": "amount", "message": "must not be negative"}])
    exists = (await session.execute(sa.select(payees.c.id).where(payees.c.id == payee))).first()
    if exists is None:
        raise invalid([{"field": "payee", "message": f"no payee {payee!r}"}])
    key = (quotas.c.payee == payee) & (quotas.c.period == period)
    before = (await session.execute(sa.select(quotas.c.amount).where(key).with_for_update())).scalar()
    response.status_code = 201 if before is None else 200
    if before is not None and before == body.amount:
        return _view(payee, period, before)
    await session.execute(
        insert(quotas)
        .values(payee=payee, period=period, amount=body.amount)
        .on_conflict_do_update(
            index_elements=[quotas.c.payee, quotas.c.period],
            set_={"amount": body.amount, "updated_at": sa.func.now()},
        )
    )
    record = QuotaRecord(payee=payee, period=period, amount=body.amount)
    await add_to_outbox(
        session,
        outbox,
        QUOTAS.name,
        f"{payee}:{period}",
        envelope("quota", "quota-service", f"{payee}:{period}", record),
    )
    await record_audit(
        session,
        audit,
        principal,
        "quota.put",
        f"quota:{payee}:{period}",
        None if before is None else str(before),
        str(body.amount),
    )
    return _view(payee, period, body.amount)


@router.get("/quotas")
async def list_quotas(session: Session, principal: Reader, payee: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(quotas).order_by(quotas.c.payee, quotas.c.period)
    if payee is not None:
        query = query.where(quotas.c.payee == payee)
    return [_view(r.payee, r.period, r.amount) for r in (await session.execute(query)).all()]


@router.get("/quotas/{payee}/{period}")
async def get_quota(payee: str, period: str, session: Session, principal: Reader) -> dict[str, Any]:
    row = (
        await session.execute(sa.select(quotas).where(quotas.c.payee == payee, quotas.c.period == period))
    ).first()
    if row is None:
        raise Problem(404, f"no quota for {payee!r} in {period!r}")
    return _view(row.payee, row.period, row.amount)
