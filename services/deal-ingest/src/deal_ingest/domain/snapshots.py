"""Deal snapshots and revisions: the pure rules of deal-ingest.

A CRM change becomes a new revision only if it is not older than what is stored and
actually changes the deal; an older change (an out-of-order delivery) is kept in the raw
log but never moves the deal backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from deal_ingest.domain.common import FieldError
from provisio_common.events import ActivityRecord, DealSnapshot

RESERVED_SOURCES = {"hubspot", "pipedrive", "salesforce"}


@dataclass(frozen=True)
class Stored:
    revision: int
    changed_at: datetime
    document: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    outcome: Literal["new_revision", "unchanged", "older_than_stored"]
    revision: int


def _content(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("revision", "changed_at")}


def decide(stored: Stored | None, incoming: DealSnapshot) -> Decision:
    """What storing `incoming` (whose revision is not yet assigned) does."""
    if stored is None:
        return Decision("new_revision", 1)
    if incoming.changed_at < stored.changed_at:
        return Decision("older_than_stored", stored.revision)
    if _content(incoming.to_data()) == _content(stored.document):
        return Decision("unchanged", stored.revision)
    return Decision("new_revision", stored.revision + 1)


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
