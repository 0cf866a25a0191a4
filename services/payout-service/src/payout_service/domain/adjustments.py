"""Manual adjustments: created pending by one admin, approved or rejected by another.

Only approved adjustments count, in the pay period they name, or, if that pay period
closed before the approval, in the first open one after it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

from payout_service.domain.errors import Conflict

AdjustmentStatus = Literal["pending", "approved", "rejected"]
ADJUSTMENT_STATUSES: tuple[AdjustmentStatus, ...] = ("pending", "approved", "rejected")


@dataclass(frozen=True)
class Adjustment:
    """A manual amount for a payee (may be negative), in one currency and pay period."""

    id: str
    payee: str
    amount: Decimal
    currency: str
    reason: str
    pay_period: str
    status: AdjustmentStatus
    created_by: str
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    landed_in: str | None = None

    @property
    def paid_in(self) -> str:
        """The pay period it counts in: where it landed on approval, else the one it names."""
        return self.landed_in or self.pay_period

    def decide(
        self, approve: bool, by: str, at: datetime, landed_in: str, reason: str | None = None
    ) -> Adjustment:
        """Approve or reject: only a pending one, only by someone other than its creator."""
        if self.status != "pending":
            raise Conflict(f"adjustment {self.id} is already {self.status}")
        if by == self.created_by:
            raise Conflict(f"{by!r} created adjustment {self.id}; another admin must approve or reject it")
        return replace(
            self,
            status="approved" if approve else "rejected",
            decided_by=by,
            decided_at=at,
            decision_reason=reason,
            landed_in=(landed_in if landed_in != self.pay_period else None) if approve else None,
        )
