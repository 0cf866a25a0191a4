"""Deal snapshots and revisions: the pure rules of deal-ingest.

Every distinct snapshot a CRM sends is kept and published, late ones too: a deal's
history is ordered by `changed_at` (`provisio_common.events.revision_order`), not by
arrival, so any arrival order gives the same history. `revision` numbers arrivals. A
snapshot is redundant (`unchanged`) when it is already kept, or when it says the same as
the snapshot before it in that history. The current snapshot is the last in history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from deal_ingest.domain.common import FieldError
from provisio_common.events import ActivityRecord, DealSnapshot, canonical_content, revision_order

RESERVED_SOURCES = {"hubspot", "pipedrive", "salesforce"}


@dataclass(frozen=True)
class Stored:
    """One kept revision of a deal."""

    revision: int
    changed_at: datetime
    document: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """What storing a snapshot does: its revision (arrival number) and whether it becomes
    the deal's current snapshot (the last in history)."""

    outcome: Literal["new_revision", "unchanged"]
    revision: int
    current: bool = False


def decide(history: Sequence[Stored], incoming: DealSnapshot) -> Decision:
    """What storing `incoming` (whose revision is not yet assigned) does, given every
    revision kept of its deal (any order)."""
    if not history:
        return Decision("new_revision", 1, current=True)
    document = incoming.to_data()
    place = revision_order(document)
    timeline = sorted(history, key=lambda r: revision_order(r.document))
    before = [r for r in timeline if revision_order(r.document) <= place]
    last_arrival = max(r.revision for r in history)
    if before and (
        revision_order(before[-1].document) == place
        or canonical_content(before[-1].document) == canonical_content(document)
    ):
        return Decision("unchanged", before[-1].revision)
    is_last = place > revision_order(timeline[-1].document)
    return Decision("new_revision", last_arrival + 1, current=is_last)


def generic_deal(data: Any, received_at: datetime) -> DealSnapshot:
    """Read the `data` of a generic `deal.snapshot` delivery (revision assigned later).

    Raises pydantic's ValidationError naming each bad field.
    """
    if not isinstance(data, dict):
        raise _error("data", "must be an object")
    if "revision" in data:
        raise _error("data.revision", "is assigned by Provisio; do not send it")
    source = data.get("source", "generic")
    if source in RESERVED_SOURCES:
        raise _error("data.source", f"{source!r} deals arrive through their own door")
    fields = {"changed_at": received_at.isoformat(), **data, "source": source, "revision": 1}
    return DealSnapshot.model_validate(fields)


def generic_activity(data: Any) -> ActivityRecord:
    if not isinstance(data, dict):
        raise _error("data", "must be an object")
    return ActivityRecord.model_validate({"source": "generic", **data})


def _error(field: str, message: str) -> FieldError:
    return FieldError(field, message)


__all__ = [
    "Decision",
    "FieldError",
    "Stored",
    "ValidationError",
    "decide",
    "generic_activity",
    "generic_deal",
]
