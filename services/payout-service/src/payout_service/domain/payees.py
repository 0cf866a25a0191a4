"""The payee replica: the hierarchy (what a manager may see), the payroll id (who payroll
pays) and the plan assignments (who a plan's draw covers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Assignment:
    """The payee is on `plan` from `valid_from` to `valid_to` (inclusive; None = open)."""

    plan: str
    valid_from: date | None = None
    valid_to: date | None = None


@dataclass(frozen=True)
class Payee:
    """One replicated `payees.v1` payee: what statements and batches need."""

    id: str
    name: str
    manager: str | None
    payroll_id: str | None = None
    assignments: tuple[Assignment, ...] = ()

    def window(self, plan: str) -> tuple[date, date] | None:
        """The days the payee is on `plan` (the hull of their assignments), or None."""
        mine = [a for a in self.assignments if a.plan == plan]
        if not mine:
            return None
        start = min(a.valid_from or date.min for a in mine)
        end = max(a.valid_to or date.max for a in mine)
        return start, end
