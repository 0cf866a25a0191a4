"""What a producer of calc-engine's inputs says it has published, on the wire: the shapes
`POST /recompute` compares with what calc-engine holds (DESIGN.md §4, "reconcile across
services"). deal-ingest answers with every deal's published revisions, quota-service with
a summary of its reference data; both sides key and digest records the same way, here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from provisio_common.events import PayeeRecord

# The largest page of `GET /admin/published-revisions`, and the most deals one replay request names.
MAX_DEALS_PER_REQUEST = 5000


class PublishedRevisions(BaseModel):
    """One deal and the revisions of it its producer published (`source:external_id`)."""

    deal: str
    revisions: list[int]


class PublishedRevisionsPage(BaseModel):
    """A page of deals in key order; `next` is the `after` cursor of the next page."""

    deals: list[PublishedRevisions]
    next: str | None


class ReferenceSummary(BaseModel):
    """quota-service's published reference data, keyed as `reference_keys` keys it:
    plan versions per plan, a digest per payee, quota amounts and fx rates as decimal strings."""

    plans: dict[str, list[int]] = Field(description="plan id -> every stored version")
    payees: dict[str, str] = Field(description="payee id -> digest of the payees.v1 record")
    quotas: dict[str, str] = Field(description="`payee:period` -> amount")
    fx_rates: dict[str, str] = Field(description="`day:from:to` -> rate")


# A key of a republish request: an id (at most 200 characters) or `payee:period`, `day:from:to`.
Key = Annotated[str, StringConstraints(min_length=1, max_length=420)]


class RepublishRequest(BaseModel):
    """Keys whose current state quota-service publishes again (a key it no longer holds is
    published as deleted, where the topic has deletions: quotas and fx rates)."""

    model_config = ConfigDict(extra="forbid")
    plans: list[Key] = Field(default_factory=list, max_length=MAX_DEALS_PER_REQUEST)
    payees: list[Key] = Field(default_factory=list, max_length=MAX_DEALS_PER_REQUEST)
    quotas: list[Key] = Field(default_factory=list, max_length=MAX_DEALS_PER_REQUEST)
    fx_rates: list[Key] = Field(default_factory=list, max_length=MAX_DEALS_PER_REQUEST)


class Republished(BaseModel):
    """How many events each kind published again."""

    plans: int = 0
    payees: int = 0
    quotas: int = 0
    fx_rates: int = 0


def payee_digest(document: dict[str, Any]) -> str:
    """The digest of a payee as `payees.v1` carries it (read through `PayeeRecord`, so two
    spellings of the same record agree)."""
    data = PayeeRecord.model_validate(document).to_data()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def quota_key(payee: str, period: str) -> str:
    """`payee:period`."""
    return f"{payee}:{period}"


def fx_key(day: date, source: str, target: str) -> str:
    """`day:from:to`."""
    return f"{day.isoformat()}:{source}:{target}"


def split_fx_key(key: str) -> tuple[date, str, str]:
    """The (day, from, to) of an `fx_key` (ValueError when it is not one)."""
    day, source, target = key.rsplit(":", 2)
    return date.fromisoformat(day), source, target


def split_quota_key(key: str) -> tuple[str, str]:
    """The (payee, period) of a `quota_key`: the period is the part after the last `:`."""
    payee, _, period = key.rpartition(":")
    if not payee or not period:
        raise ValueError(f"not a payee:period key: {key!r}")
    return payee, period


def same_amount(a: str | None, b: str | None) -> bool:
    """Two decimal strings equal as numbers ("10" and "10.00"), or both absent."""
    if a is None or b is None:
        return a is b
    return Decimal(a) == Decimal(b)
