"""quota-service handlers: keep the credits that attainment is measured on."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from provisio_common.events import CreditRecord, Envelope
from provisio_common.inbox import PoisonMessage
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from quota_service.adapters.tables import credits


async def on_credit(session: AsyncSession, env: Envelope) -> None:
    """Keep the latest revision of each (deal, payee) credit; older revisions are ignored."""
    try:
        credit = CreditRecord.model_validate(env.data)
    except ValidationError as exc:
        raise PoisonMessage(f"not a credits.v1 record: {exc}") from exc
    close = credit.close_date
    close_day = close.date() if isinstance(close, datetime) else close
    values = {
        "revision": credit.revision,
        "amount": credit.amount,
        "currency": credit.currency,
        "status": credit.status,
        "close_date": close_day if isinstance(close_day, date) else None,
    }
    await session.execute(
        insert(credits)
        .values(deal=credit.deal, payee=credit.payee, **values)
        .on_conflict_do_update(
            index_elements=[credits.c.deal, credits.c.payee],
            set_=values,
            where=credits.c.revision < sa.literal(credit.revision),
        )
    )
