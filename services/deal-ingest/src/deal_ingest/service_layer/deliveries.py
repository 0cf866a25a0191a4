"""One webhook delivery, whatever the door: keep it verbatim, apply it once, say what it did.

Every door verifies and parses with its CRM's own scheme, then hands the parsed content to
`receive_delivery` as a function that applies it inside the unit of work. A redelivery
(the same source and delivery id) changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from deal_ingest.adapters import metrics
from deal_ingest.domain.records import LoggedDelivery
from deal_ingest.service_layer import IngestUoW
from provisio_common.events import utcnow


class Applied(Protocol):
    """What applying a delivery's content did."""

    @property
    def outcome(self) -> str: ...

    @property
    def detail(self) -> str | None: ...


A = TypeVar("A", bound=Applied)
Apply = Callable[[IngestUoW, int], Awaitable[A]]
"""Applies a delivery's parsed content inside the unit of work, given the delivery's row id."""


async def receive_delivery(
    uow: IngestUoW,
    source: str,
    delivery_id: str,
    headers: dict[str, str],
    body: bytes,
    apply: Apply[A],
) -> A | None:
    """Keep the delivery in the raw log, apply it, record its outcome, all in one commit.

    The delivery's row is claimed first (its id, which revisions and CRM events name) and
    written once, with its outcome, after the content is applied. None for a redelivery
    of a (source, delivery id) already received, also one racing this one: nothing changes.
    Counted in `provisio_ingest_deliveries_total{source,outcome}` once committed. What it
    publishes carries the acceptance time (`accepted_at`), for the webhook -> statement
    latency payout-service observes.
    """
    async with uow:
        uow.accepted_at = utcnow()
        delivery = await uow.repos.deliveries.claim(source, delivery_id)
        result = None
        if delivery is not None:
            result = await apply(uow, delivery)
            detail = result.detail
            if await uow.repos.deliveries.record(
                delivery, source, delivery_id, headers, body, result.outcome, detail
            ):
                await uow.commit()
            else:
                result = None  # a concurrent redelivery was kept first: roll this one back
    metrics.DELIVERIES.labels(source, "duplicate" if result is None else result.outcome).inc()
    return result


@dataclass(frozen=True)
class DeliveryPage:
    """One page of the raw log, newest first; `next` is the cursor of the following page."""

    deliveries: list[LoggedDelivery]
    next: int | None


async def list_deliveries(
    uow: IngestUoW,
    *,
    source: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    before: int | None = None,
    limit: int = 100,
) -> DeliveryPage:
    """The raw log, newest first, filtered, paginated by the id cursor `before`."""
    async with uow:
        rows = await uow.repos.deliveries.find(
            source=source, outcome=outcome, since=since, before=before, limit=limit + 1
        )
    page = rows[:limit]
    return DeliveryPage(page, page[-1].id if len(rows) > limit else None)
