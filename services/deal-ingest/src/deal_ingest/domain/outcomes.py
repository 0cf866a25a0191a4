"""What applying one delivery did: the outcome kept in the raw log, counted in the metrics
and answered to the CRM."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StoreResult:
    """One deal or activity stored (or not): `new_revision`, `unchanged`, `older_than_stored`,
    `incomplete`, `new_activity` or `ignored` (with why in `detail`)."""

    outcome: str
    deal: str | None = None
    revision: int | None = None
    detail: str | None = None


@dataclass
class BatchResult:
    """What one batched delivery did: per-event counts and per-deal outcomes."""

    events: Counter[str] = field(default_factory=Counter)
    deals: list[StoreResult] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """The delivery's outcome for the raw log and the metrics."""
        if any(d.outcome == "new_revision" for d in self.deals):
            return "new_revision"
        if self.events and set(self.events) <= {"duplicate"}:
            return "duplicate"
        if any(d.outcome == "incomplete" for d in self.deals):
            return "incomplete"
        if self.deals:
            return self.deals[0].outcome if len({d.outcome for d in self.deals}) == 1 else "unchanged"
        return "ignored"

    @property
    def detail(self) -> str:
        """The raw log's detail: the whole answer, as JSON."""
        return json.dumps(self.to_json())

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "events": dict(self.events),
            "deals": [{"deal": d.deal, "outcome": d.outcome, "revision": d.revision} for d in self.deals],
        }
