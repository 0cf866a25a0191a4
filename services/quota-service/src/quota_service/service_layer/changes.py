"""What every planning write shares: the unit of work type, and the one sequence that
stores a change, publishes it and audits it (or does nothing when nothing changed). An
import stores and publishes each row the same way and audits the file once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from provisio_common.auth import Principal
from provisio_common.events import Schema
from provisio_common.uow import UnitOfWork
from quota_service.adapters.repositories import QuotaRepositories

QuotaUoW = UnitOfWork[QuotaRepositories]

T = TypeVar("T")


@dataclass(frozen=True)
class Put(Generic[T]):
    """The outcome of a create-or-replace: what is stored now, and whether it is new (201)."""

    value: T
    created: bool


def _same(value: Any) -> Any:
    return value


async def upsert_publish(
    uow: QuotaUoW, *, before: T | None, after: T, upsert: Callable[[], Awaitable[Schema | None]]
) -> bool:
    """Store `after` in place of `before` and publish the change, in `uow`'s transaction;
    True if it did. An unchanged value (`before == after`) writes and publishes nothing.
    `upsert` writes and returns the event to publish (None for records no topic carries:
    teams, territories, targets)."""
    if before == after:
        return False
    record = await upsert()
    if record is not None:
        await uow.publish(record)
    return True


async def upsert_publish_audit(
    uow: QuotaUoW,
    principal: Principal,
    *,
    before: T | None,
    after: T,
    upsert: Callable[[], Awaitable[Schema | None]],
    action: str,
    entity: str,
    audited: Callable[[T], Any] = _same,
) -> bool:
    """`upsert_publish`, and the one audit row of the request when it changed something;
    `audited` is how a value appears in the audit log. Unchanged: no row."""
    if not await upsert_publish(uow, before=before, after=after, upsert=upsert):
        return False
    await uow.audit(principal, action, entity, None if before is None else audited(before), audited(after))
    return True
