"""Deal snapshots and revisions: the pure rules of deal-ingest.

Every distinct snapshot a CRM sends is kept, late ones too: a deal's history is ordered by
`changed_at` (`provisio_common.events.revision_order`), not by arrival, so any arrival
order gives the same history. `revision` numbers arrivals. A snapshot is published when it
says something the snapshot before it in history does not (see `decide`). The current
snapshot is the last in history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from deal_ingest.domain.common import FieldError
from deal_ingest.domain.limits import require_decimal_strings
from provisio_common.events import ActivityRecord, DealSnapshot, canonical_content, revision_order

RESERVED_SOURCES = {"hubspot", "pipedrive", "salesforce"}


@dataclass(frozen=True)
class Stored:
    """One kept revision of a deal (`published` False: kept in history, not sent yet)."""

    revision: int
    changed_at: datetime
    document: dict[str, Any]
    published: bool = True


@dataclass(frozen=True)
class Decision:
    """What storing a snapshot does: its revision (arrival number), whether it becomes the
    deal's current snapshot (the last in history), whether it is published now, and which
    kept revisions this arrival makes meaningful (to publish now)."""

    outcome: Literal["new_revision", "unchanged"]
    revision: int
    current: bool = False
    publish: bool = False
    now_meaningful: tuple[int, ...] = ()


def decide(history: Sequence[Stored], incoming: DealSnapshot) -> Decision:
    """What storing `incoming` (whose revision is not yet assigned) does, given every
    revision kept of its deal (any order).

    A snapshot already kept (same `changed_at`, same content) is `unchanged`. Any other is
    kept as the next revision. It is published when it says something the snapshot before
    it in history does not; otherwise it is kept unpublished (`unchanged`), because a later
    arrival may land between the two and make it mean something (a re-win arriving before
    the cancellation it follows): that arrival then publishes it too.
    """
    document = incoming.to_data()
    place = revision_order(document)
    if any(revision_order(r.document) == place for r in history):
        same = next(r for r in history if revision_order(r.document) == place)
        return Decision("unchanged", same.revision)
    revision = max((r.revision for r in history), default=0) + 1
    mine = Stored(revision, incoming.changed_at, document, published=False)
    timeline = sorted([*history, mine], key=lambda r: revision_order(r.document))
    meaningful = {
        r.revision
        for i, r in enumerate(timeline)
        if i == 0 or canonical_content(r.document) != canonical_content(timeline[i - 1].document)
    }
    publish = revision in meaningful
    return Decision(
        "new_revision" if publish else "unchanged",
        revision,
        current=timeline[-1] is mine,
        publish=publish,
        now_meaningful=tuple(
            sorted(r.revision for r in history if not r.published and r.revision in meaningful)
        ),
    )


def generic_deal(data: Any, received_at: datetime) -> DealSnapshot:
    """Read the `data` of a generic `deal.snapshot` delivery (revision assigned later).

    Raises pydantic's ValidationError naming each bad field.
    """
    if not isinstance(data, dict):
        raise _error("data", "must be an object")
    if "revision" in data:
        raise _error("data.revision", "is assigned by Provisio; do not send it")
    require_decimal_strings(data)
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
