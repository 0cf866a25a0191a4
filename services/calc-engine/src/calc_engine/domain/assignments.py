"""Which payees a plan applies to: the payees' plan assignments (payee <-> plan over dates)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from calc_engine.domain.model import RunScope
from provisio_calc import CalcException, Deal
from provisio_calc.periods import period_bounds


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


def deal_people(deals: Iterable[Deal]) -> dict[str, set[str]]:
    """The people of each deal (owners and split payees of every revision), by deal key."""
    people: dict[str, set[str]] = {}
    for deal in deals:
        people.setdefault(deal.key, set()).update([deal.owner, *(s.payee for s in deal.splits)])
    return people


def exception_on_plan(
    exception: CalcException,
    plan_id: str,
    payees: Mapping[str, Mapping[str, Any]],
    deal_people: Mapping[str, set[str]],
) -> bool:
    """Whether an exception belongs under `plan_id`: a missing quota when its payee is on
    the plan in that period (as its line would be); a deal's exception when one of the
    deal's people is on the plan. One whose people are on no plan at all (unknown CRM
    users, say) shows under every plan, so it is never hidden."""
    if exception.deal is None and exception.period is not None and exception.payee is not None:
        document = payees.get(exception.payee)
        first, last = period_bounds(exception.period)
        return document is not None and assigned(document, plan_id, first, last)
    people = set(deal_people.get(exception.deal, set())) if exception.deal else set()
    if exception.payee is not None:
        people.add(exception.payee)
    documents = [payees[p] for p in people if p in payees]
    if any(assigned(d, plan_id, date.min, date.max) for d in documents):
        return True
    return not any(d.get("assignments") for d in documents)


def exception_in_scope(exception: CalcException, scope: RunScope | None) -> bool:
    """Whether a scoped run recomputed what this exception is about (a whole run: always)."""
    if scope is None:
        return True
    if exception.deal is not None:
        return exception.deal in scope.deals
    if scope.payees is not None and exception.payee not in scope.payees:
        return False
    return exception.period is not None and exception.period in scope.periods
