"""Steps the unit tests share: consume a record, close a pay period, read statement rows,
expect a problem, all on the fake unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest
from payout_fakes import fake_uow, ledger_record

from payout_service.adapters.repositories import PayoutRepositories
from payout_service.service_layer.pay_periods import close_pay_period
from payout_service.service_layer.statements import list_statements
from provisio_common.auth import Principal
from provisio_common.events import LedgerEntryRecord, Schema
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore

Store = FakeStore[PayoutRepositories]
ADMIN = Principal("ada", "admin")
TODAY = date(2027, 12, 31)


async def consume(store: Store, handler: Callable[[Any, Any], Awaitable[None]], record: Schema) -> None:
    """What the consumer does around a handler: one unit of work, committed."""
    async with fake_uow(store) as uow:
        await handler(uow, record)
        await uow.commit()


def entry(entry_id: str, amount: str, day: str, payee: str = "ann", **fields: Any) -> LedgerEntryRecord:
    """A ledger entry of `amount` dated `day`, in that day's monthly pay period."""
    return ledger_record(entry_id, payee, amount=amount, entry_date=day, pay_period=day[:7], **fields)


async def rows(store: Store, payee: str = "ann", today: date = TODAY) -> dict[str, dict[str, Any]]:
    """A payee's statement rows (one currency) by pay period, as the API shows them."""
    return {r["pay_period"]: dict(r) for r in await list_statements(fake_uow(store), ADMIN, payee, today)}


async def close(store: Store, pay_period: str, today: date = TODAY) -> None:
    """Close a pay period as an admin."""
    await close_pay_period(fake_uow(store), ADMIN, pay_period, today)


async def refused(call: Awaitable[object]) -> Problem:
    """The problem a use case answers with."""
    with pytest.raises(Problem) as info:
        await call
    return info.value
