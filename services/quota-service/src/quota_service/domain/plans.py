"""Plan versions: each stored change of a plan document is a new, numbered version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class StoredPlanVersion:
    """One stored version of a plan: the normalized document and the text it came from."""

    plan_id: str
    version: int
    document: dict[str, Any]
    source_text: str
    created_by: str
    created_at: datetime


def next_version(latest: StoredPlanVersion | None) -> int:
    """The number the next version of a plan gets."""
    return 1 if latest is None else latest.version + 1
