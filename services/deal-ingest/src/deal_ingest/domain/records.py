"""What deal-ingest keeps, as plain data: the raw delivery log, current deals, revisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class LoggedDelivery:
    """One accepted webhook delivery, verbatim, with what it did."""

    id: int
    source: str
    delivery_id: str
    received_at: datetime
    headers: dict[str, str]
    body: bytes
    outcome: str
    detail: str | None


@dataclass(frozen=True)
class CurrentDeal:
    """A deal's current snapshot document (`deals.v1` data at its latest revision)."""

    source: str
    external_id: str
    document: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.source}:{self.external_id}"


@dataclass(frozen=True)
class Revision:
    """One stored revision of a deal: when it changed in the CRM, when it was recorded."""

    revision: int
    changed_at: datetime
    recorded_at: datetime
    document: dict[str, Any]
