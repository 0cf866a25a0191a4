"""Which payees a plan applies to: the payees' plan assignments (payee <-> plan over dates)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any


def assigned(payee: Mapping[str, Any], plan_id: str, first: date, last: date) -> bool:
    """True if the payee has an assignment to `plan_id` overlapping [first, last]."""
    for assignment in payee.get("assignments", []):
        if assignment["plan"] != plan_id:
            continue
        start = date.fromisoformat(assignment["valid_from"]) if assignment.get("valid_from") else date.min
        end = date.fromisoformat(assignment["valid_to"]) if assignment.get("valid_to") else date.max
        if start <= last and first <= end:
            return True
    return False


def plans_of(payees: Iterable[Mapping[str, Any]]) -> set[str]:
    return {a["plan"] for p in payees for a in p.get("assignments", [])}
