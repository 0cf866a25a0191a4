"""What calc-engine holds besides the ledger: plan versions, deals, calculation exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredPlan:
    """One version of a plan document as replicated from `plans.v1`."""

    plan_id: str
    version: int
    document: dict[str, Any]


@dataclass(frozen=True)
class HeldDeal:
    """The revision (and its status) calc-engine applied for one deal."""

    deal: str
    revision: int
    status: str


@dataclass(frozen=True)
class PlanException:
    """An input one plan's run could not use (missing_quota, missing_fx, bad_split,
    unknown_payee); it stays until a run no longer reports it."""

    plan: str
    kind: str
    payee: str | None
    deal: str | None
    detail: str
    period: str | None = None


@dataclass(frozen=True)
class RunScope:
    """What a scoped reconcile recomputed: the deals it loaded and the periods it redid
    (for every payee, or for `payees` only: a keyed run, `domain.keyed`)."""

    deals: frozenset[str]
    periods: frozenset[str]
    payees: frozenset[str] | None = None
