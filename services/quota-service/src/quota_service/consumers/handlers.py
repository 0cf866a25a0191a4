"""quota-service handlers: keep the credits that attainment is measured on."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from provisio_common.events import CreditRecord, Envelope
from provisio_common.inbox import PoisonMessage
from quota_service.adapters.tables import credits


async def on_credit(session: AsyncSession, env: Envelope) -> None:
    """Keep the latest credit of each (deal, payee); older revisions are ignored."""
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
            # The same revision may be re-credited (a CRM reference resolved later):
            # per-payee partition order makes the later message the right one.
            where=credits.c.revision <= sa.literal(credit.revision),
        )
    )
