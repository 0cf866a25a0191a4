"""payout-service handlers: replicate the ledger and the payee hierarchy."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from payout_service.adapters.tables import ledger_entries, payees
from provisio_common.events import Envelope, LedgerEntryRecord, PayeeRecord
from provisio_common.inbox import PoisonMessage


async def on_ledger_entry(session: AsyncSession, env: Envelope) -> None:
    try:
        entry = LedgerEntryRecord.model_validate(env.data)
    except ValidationError as exc:
        raise PoisonMessage(f"not a ledger.v1 entry: {exc}") from exc
    values = entry.model_dump(exclude={"cause_event"})
    # The entry id is the ledger's own key: a re-published entry is stored once.
    await session.execute(insert(ledger_entries).values(**values).on_conflict_do_nothing())


async def on_payee(session: AsyncSession, env: Envelope) -> None:
    try:
        record = PayeeRecord.model_validate(env.data)
    except ValidationError as exc:
        raise PoisonMessage(f"not a payees.v1 record: {exc}") from exc
    values = {"manager": record.manager, "name": record.name}
    await session.execute(
        insert(payees)
        .values(id=record.id, **values)
        .on_conflict_do_update(index_elements=[payees.c.id], set_=values)
    )
