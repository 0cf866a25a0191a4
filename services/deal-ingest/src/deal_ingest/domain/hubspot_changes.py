"""HubSpot property changes merged into a deal's state: the pure rule.

HubSpot sends only what changed, in batches of up to 100 events, in no guaranteed order
and sometimes twice. deal-ingest keeps, per deal, the last value of every property with
the moment it changed in HubSpot (`occurredAt`), and every change it was ever sent (`h`):
a change older than the one held is kept in that history (so the deal's state at any past
moment can be read, `as_of`) but never moves the current value backwards. Reading a state
into a snapshot is the HubSpot adapter's job (`adapters/crm/hubspot.py`, `build_snapshot`).
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


def _record(state: DealState, name: str, event: HubSpotEvent, value: Any, *, newer: bool) -> bool:
    """Keep the change in the entry's history; make it the current value when `newer`."""
    held = state.get(name)
    history = _history(held)
    history.append([event.occurred_at, event.event_id, value])
    history.sort(key=lambda change: (int(change[0]), str(change[1])))
    if newer or held is None:
        state[name] = {"at": event.occurred_at, "e": event.event_id, "v": value, "h": history}
        return True
    held["h"] = history
    return False


def _history(held: dict[str, Any] | None) -> list[list[Any]]:
    if held is None:
        return []
    # A state saved before histories were kept holds only its current value.
    return [list(change) for change in held.get("h", [[held["at"], held["e"], held.get("v")]])]


def merge(state: DealState, event: HubSpotEvent) -> bool:
    """Apply one deal event to the state in place: True if it is now the current value,
    False if it is older than what is held (then only kept in the history)."""
    if event.subscription_type == "deal.creation":
        held = state.get("@created")
        return _record(
            state, "@created", event, None, newer=held is None or int(held["at"]) > event.occurred_at
        )
    if event.subscription_type in ("deal.deletion", "deal.restore"):
        deleted = event.subscription_type == "deal.deletion"
        return _record(state, "@deleted", event, deleted, newer=_newer(state.get("@deleted"), event))
    if event.subscription_type == "deal.propertyChange" and event.property_name:
        name = event.property_name
        return _record(state, name, event, event.property_value, newer=_newer(state.get(name), event))
    return False


def as_of(state: DealState, moment: int) -> DealState:
    """The deal's state as HubSpot had it at `moment` (epoch ms): each property's last change
    at or before it; a property first set later is absent. (`@created` is the earliest.)"""
    view: DealState = {}
    for name, held in state.items():
        before = [c for c in _history(held) if int(c[0]) <= moment]
        if name == "@created":
            before = before[:1]
        if before:
            at, event_id, value = before[-1] if name != "@created" else before[0]
            view[name] = {"at": at, "e": event_id, "v": value}
    return view


def merge_order(event: HubSpotEvent) -> tuple[int, str]:
    """The order a deal's new events are merged in: when they happened in HubSpot."""
    return (event.occurred_at, event.event_id)
