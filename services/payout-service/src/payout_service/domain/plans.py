"""The plan replica: every version of every plan (`plans.v1`), read with libs/calc.

Statements use a plan's latest version for its draw, rounding and pay frequency (as
calc-engine computes the ledger with it); batches map an entry's component to its kind,
and commission expense reads the `accounting` section, with the version that posted the
entry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payout_service.domain.accounting import AccountingPolicy
from provisio_calc import Plan, load_plan

_READ: dict[tuple[str, int, str], Plan] = {}
EARNING_CODES = ("commission", "bonus", "spif", "contest", "draw", "adjustment", "non_cash_award")


@dataclass(frozen=True)
class PlanVersionDoc:
    """One stored version of a plan document, as quota-service published it."""

    plan_id: str
    version: int
    document: Mapping[str, Any]
    created_at: datetime

    def plan(self) -> Plan:
        """The validated plan (libs/calc's reader, the one quota-service validated it with).

        A stored version never changes (the first copy stays), so each is read once."""
        key = (self.plan_id, self.version, json.dumps(self.document, sort_keys=True, default=str))
        plan = _READ.get(key)
        if plan is None:
            plan = _READ[key] = load_plan(dict(self.document))
            if len(_READ) > 1024:
                _READ.pop(next(iter(_READ)))
        return plan

    def accounting(self) -> AccountingPolicy:
        """The version's `accounting` section with its defaults: capitalize every commission
        and spif component, no default term, the practical expedient on."""
        plan = self.plan()
        section = plan.accounting
        if section is None:
            return AccountingPolicy(
                frozenset(c.id for c in plan.components if c.kind in ("commission", "spif")),
                timezone=plan.timezone,
            )
        return AccountingPolicy(
            section.capitalized(plan.components),
            section.default_term_months,
            section.practical_expedient,
            plan.timezone,
        )

    def kinds(self) -> dict[str, str]:
        """Each component id's kind (`commission`, `bonus`, `spif`, `contest`)."""
        components = self.document.get("components", [])
        return {str(c.get("id")): str(c.get("kind")) for c in components if isinstance(c, Mapping)}
