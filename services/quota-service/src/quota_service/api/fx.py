"""FX rates: `PUT /fx-rates/{day}/{from}/{to}` — 1 `from` = `rate` `to` from `day` on.

calc-engine converts a deal at the latest rate on or before its close day (PLANS.md
rule 16); a deal without one is parked as `missing_fx` until the rate arrives here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects.postgresql import insert

from provisio_common.audit import record_audit
from provisio_common.events import Amount, FxRateRecord, envelope
from provisio_common.money import is_currency_code
from provisio_common.outbox import add_to_outbox
from provisio_common.problems import invalid
from provisio_common.topics import FXRATES
from quota_service.adapters.tables import audit, fx_rates, outbox
from quota_service.api.deps import Admin, Reader, Session

router = APIRouter(tags=["fx"])


class FxRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: Amount


def _view(day: date, source: str, target: str, rate: Any) -> dict[str, Any]:
    return {"day": day.isoformat(), "from": source, "to": target, "rate": str(rate)}


@router.put("/fx-rates/{day}/{source}/{target}")
async def put_fx_rate(
    day: date,
    source: str,
    target: str,
    body: FxRateIn,
    session: Session,
    principal: Admin,
    response: Response,
) -> dict[str, Any]:
    """Set the rate from `day` on; publishes it on `fxrates.v1`."""
    errors = [
        {"field": name, "message": "must be an ISO 4217 currency code such as EUR"}
        for name, code in (("source", source), ("target", target))
        if not is_currency_code(code)
    ]
    if source == target:
        errors.append({"field": "target", "message": "must differ from source"})
    if body.rate <= 0:
        errors.append({"field": "rate", "message": "must be positive"})
    if errors:
        raise invalid(errors)
    key = (fx_rates.c.day == day) & (fx_rates.c.from_currency == source) & (fx_rates.c.to_currency == target)
    before = (await session.execute(sa.select(fx_rates.c.rate).where(key).with_for_update())).scalar()
    response.status_code = 201 if before is None else 200
    if before is not None and before == body.rate:
        return _view(day, source, target, before)
    await session.execute(
        insert(fx_rates)
        .values(day=day, from_currency=source, to_currency=target, rate=body.rate)
        .on_conflict_do_update(
            index_elements=[fx_rates.c.day, fx_rates.c.from_currency, fx_rates.c.to_currency],
            set_={"rate": body.rate, "updated_at": sa.func.now()},
        )
    )
    subject = f"{day.isoformat()}:{source}:{target}"
    record = FxRateRecord(day=day, from_currency=source, to_currency=target, rate=body.rate)
    await add_to_outbox(
        session, outbox, FXRATES.name, subject, envelope("fx.rate", "quota-service", subject, record)
    )
    await record_audit(
        session,
        audit,
        principal,
        "fx.put",
        f"fx:{subject}",
        None if before is None else str(before),
        str(body.rate),
    )
    return _view(day, source, target, body.rate)


@router.get("/fx-rates")
async def list_fx_rates(session: Session, principal: Reader) -> list[dict[str, Any]]:
    rows = (
        await session.execute(sa.select(fx_rates).order_by(fx_rates.c.day, fx_rates.c.from_currency))
    ).all()
    return [_view(r.day, r.from_currency, r.to_currency, r.rate) for r in rows]
