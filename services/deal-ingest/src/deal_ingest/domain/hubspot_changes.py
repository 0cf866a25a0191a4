"""HubSpot property changes merged into a deal's state: the pure rule.

HubSpot sends only what changed, in batches of up to 100 events, in no guaranteed order
and sometimes twice. deal-ingest keeps, per deal, the last value of every property with
the moment it changed in HubSpot (`occurredAt`); a change older than the one held for that
property is not applied, so the merged deal never moves backwards whatever the order.
Reading the merged state into a snapshot is the HubSpot adapter's job
(`adapters/crm/hubspot.py`, `build_snapshot`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HubSpotEvent:
    subscription_type: str
    subscription_id: str
    event_id: str
    object_id: str
    occurred_at: int
    property_name: str | None = None
    property_value: Any = None

    @property
    def key(self) -> str:
        """HubSpot's own dedupe key: eventId alone is not unique."""
        return f"{self.subscription_id}:{self.event_id}:{self.object_id}:{self.occurred_at}"

    @property
    def is_deal_event(self) -> bool:
        return self.subscription_type.startswith("deal.")


DEAL_EVENTS = ("deal.creation", "deal.propertyChange", "deal.deletion", "deal.restore")

# The merged state of one deal: HubSpot property -> {"v": value, "at": occurredAt, "e": eventId},
# plus "@created" and "@deleted" entries for the lifecycle events.
DealState = dict[str, dict[str, Any]]


def is_merged(event: HubSpotEvent) -> bool:
    """Whether an event of a batch is one deal-ingest merges (the rest is acknowledged, ignored)."""
    return event.is_deal_event and event.subscription_type in DEAL_EVENTS


def _newer(held: dict[str, Any] | None, event: HubSpotEvent) -> bool:
    return held is None or (event.occurred_at, event.event_id) > (int(held["at"]), str(held["e"]))


def merge(state: DealState, event: HubSpotEvent) -> bool:
    """Apply one deal event to the state in place; False if it is older than what is held."""
    stamp = {"at": event.occurred_at, "e": event.event_id}
    if event.subscription_type == "deal.creation":
        held = state.get("@created")
        if held is not None and int(held["at"]) <= event.occurred_at:
            return False
        state["@created"] = stamp
        return True
    if event.subscription_type in ("deal.deletion", "deal.restore"):
        if not _newer(state.get("@deleted"), event):
            return False
        state["@deleted"] = {**stamp, "v": event.subscription_type == "deal.deletion"}
        return True
    if event.subscription_type == "deal.propertyChange" and event.property_name:
        if not _newer(state.get(event.property_name), event):
            return False
        state[event.property_name] = {**stamp, "v": event.property_value}
        return True
    return False


def merge_order(event: HubSpotEvent) -> tuple[int, str]:
    """The order a deal's new events are merged in: when they happened in HubSpot."""
    return (event.occurred_at, event.event_id)
