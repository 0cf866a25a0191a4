"""Where each event schema travels: its event type, topic, partition key and subject.

One registry next to the topic catalogue, so a producer says only *what* it emits
(`uow.publish(record)`) and a consumer only *what* it handles (`{DealSnapshot: on_deal}`);
the topic, the key that keeps order, the event type and the envelope are derived here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from provisio_common.events import (
    ActivityRecord,
    CreditRecord,
    DealSnapshot,
    DisputeOpened,
    DisputeResolved,
    Envelope,
    FxRateRecord,
    LedgerEntryRecord,
    PayeeRecord,
    PayoutBatchApproved,
    PayoutLineSettled,
    PlanVersion,
    QuotaRecord,
    Schema,
)
from provisio_common.topics import (
    ACTIVITIES,
    CREDITS,
    DEALS,
    FXRATES,
    LEDGER,
    PAYEES,
    PAYOUTS,
    PLANS,
    QUOTAS,
    Topic,
)


@dataclass(frozen=True)
class Route:
    """How records of one schema travel."""

    event_type: str
    topic: Topic
    key: Callable[[Any], str]
    subject: Callable[[Any], str]


def _activity_key(record: ActivityRecord) -> str:
    # An activity shares its deal's partition (deal filters apply through it), else its owner's.
    return f"{record.source}:{record.deal}" if record.deal else record.owner


def _same(key: Callable[[Any], str]) -> tuple[Callable[[Any], str], Callable[[Any], str]]:
    return key, key


ROUTES: dict[type[Schema], Route] = {
    DealSnapshot: Route("deal.snapshot", DEALS, *_same(lambda r: r.key)),
    ActivityRecord: Route("activity", ACTIVITIES, _activity_key, lambda r: f"{r.source}:{r.external_id}"),
    PlanVersion: Route("plan.version", PLANS, *_same(lambda r: r.plan_id)),
    PayeeRecord: Route("payee", PAYEES, *_same(lambda r: r.id)),
    QuotaRecord: Route("quota", QUOTAS, *_same(lambda r: f"{r.payee}:{r.period}")),
    FxRateRecord: Route(
        "fx.rate",
        FXRATES,
        *_same(lambda r: f"{r.day.isoformat()}:{r.from_currency}:{r.to_currency}"),
    ),
    CreditRecord: Route("credit", CREDITS, *_same(lambda r: r.payee)),
    LedgerEntryRecord: Route("ledger.entry", LEDGER, *_same(lambda r: r.payee)),
    # A batch's events share its partition (key: batch id), in the order they happened.
    PayoutBatchApproved: Route("payout.batch_approved", PAYOUTS, *_same(lambda r: r.batch_id)),
    PayoutLineSettled: Route(
        "payout.line_settled", PAYOUTS, lambda r: r.batch_id, lambda r: f"{r.batch_id}:{r.line.line_id}"
    ),
    # A payee's disputes share a partition (key: payee); the subject is the dispute.
    DisputeOpened: Route("dispute.opened", PAYOUTS, lambda r: r.payee, lambda r: r.dispute_id),
    DisputeResolved: Route("dispute.resolved", PAYOUTS, lambda r: r.payee, lambda r: r.dispute_id),
}

assert len({route.event_type for route in ROUTES.values()}) == len(ROUTES), "event types are unique"


def route_of(record_type: type[Schema]) -> Route:
    """The route of a schema; KeyError names a schema that has none."""
    try:
        return ROUTES[record_type]
    except KeyError:
        raise KeyError(f"{record_type.__name__} has no route in provisio_common.routes") from None


@dataclass(frozen=True)
class Outgoing:
    """One record ready for the outbox: its topic, partition key and envelope."""

    topic: str
    key: str
    envelope: Envelope


def outgoing(record: Schema, source: str, accepted_at: datetime | None = None) -> Outgoing:
    """Wrap `record` in a fresh envelope from `source`, addressed by its route; with
    `accepted_at`, the envelope carries the acceptance time of the webhook it descends from."""
    route = route_of(type(record))
    env = Envelope(
        type=route.event_type,
        source=source,
        subject=route.subject(record),
        data=record.to_data(),
        accepted_at=accepted_at,
    )
    return Outgoing(route.topic.name, route.key(record), env)


def schema_of(event_type: str) -> type[Schema] | None:
    """The schema an envelope's `type` names, or None for a type no route knows."""
    for schema, route in ROUTES.items():
        if route.event_type == event_type:
            return schema
    return None
