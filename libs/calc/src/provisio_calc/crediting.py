"""Crediting: who a deal counts for, and with which share (PLANS.md rules 9-12)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from provisio_calc.inputs import Deal, Payee
from provisio_calc.plan import AppliesTo

ONE = Decimal(1)


class BadSplit(ValueError):
    """A deal whose split shares are not each in (0, 1] or do not sum to exactly 1 (rule 10)."""


def direct_credits(deal: Deal) -> list[tuple[str, Decimal]]:
    """[(payee, share)]: the deal's splits if it has any, else 100% to the owner (rule 9).

    Raises BadSplit when a share is outside (0, 1] or the shares do not sum to exactly 1.
    """
    if not deal.splits:
        return [(deal.owner, ONE)]
    total = Decimal(0)
    for split in deal.splits:
        if not (0 < split.share <= 1):
            raise BadSplit(f"split share {split.share} for {split.payee} is not in (0, 1]")
        total += split.share
    if total != ONE:
        raise BadSplit(f"split shares sum to {total}, not 1")
    return [(split.payee, split.share) for split in deal.splits]


class Hierarchy:
    """The payee list: managers above each payee, and who a component applies to."""

    def __init__(self, payees: Iterable[Payee]) -> None:
        self.payees: dict[str, Payee] = {p.id: p for p in payees}
        self._ancestors: dict[str, tuple[str, ...]] = {}

    def get(self, payee_id: str) -> Payee:
        """The payee, or an implicit one (no manager, role rep) when not on the list (rule 12)."""
        found = self.payees.get(payee_id)
        return found if found is not None else Payee(payee_id)

    def ancestors(self, payee_id: str) -> tuple[str, ...]:
        """Every manager above `payee_id`, nearest first; a cycle stops at the repeat."""
        cached = self._ancestors.get(payee_id)
        if cached is not None:
            return cached
        chain: list[str] = []
        seen = {payee_id}
        current = self.payees.get(payee_id)
        while current is not None and current.manager and current.manager not in seen:
            chain.append(current.manager)
            seen.add(current.manager)
            current = self.payees.get(current.manager)
        result = tuple(chain)
        self._ancestors[payee_id] = result
        return result

    def applies(self, payee_id: str, applies_to: AppliesTo | None) -> bool:
        """True when the payee matches every key given in `applies_to` (rule 11)."""
        if applies_to is None:
            return True
        payee = self.get(payee_id)
        if applies_to.roles is not None and not set(payee.roles) & set(applies_to.roles):
            return False
        if applies_to.teams is not None and payee.team not in applies_to.teams:
            return False
        return applies_to.payees is None or payee.id in applies_to.payees


def component_credits(
    direct: list[tuple[str, Decimal]],
    owner: str,
    has_splits: bool,
    credit: tuple[str, ...],
    hierarchy: Hierarchy,
    applies_to: AppliesTo | None,
) -> dict[str, Decimal]:
    """Shares per payee for one component's `credit` list, after `applies_to`.

    `owner` credits the owner's direct share; `splits` credits the split payees of a
    split deal; `team_rollup` gives every manager above each direct-credit payee that
    payee's share again (an overlay). `applies_to` filters only who receives, so reps
    still pass credit up.
    """
    shares: dict[str, Decimal] = {}
    want_owner = "owner" in credit
    want_splits = "splits" in credit
    for payee, share in direct:
        if (want_splits and has_splits) or (want_owner and payee == owner):
            shares[payee] = shares.get(payee, Decimal(0)) + share
    if "team_rollup" in credit:
        for payee, share in direct:
            for manager in hierarchy.ancestors(payee):
                shares[manager] = shares.get(manager, Decimal(0)) + share
    if applies_to is None:
        return shares
    return {p: s for p, s in shares.items() if hierarchy.applies(p, applies_to)}


def payee_universe(
    hierarchy: Mapping[str, Payee], deals: Iterable[Deal], activity_owners: Iterable[str]
) -> list[str]:
    """Rule 12: the payee list plus every owner and split payee of every deal, and activity owners."""
    ids = dict.fromkeys(hierarchy)
    for deal in deals:
        ids.setdefault(deal.owner)
        for split in deal.splits:
            ids.setdefault(split.payee)
    for owner in activity_owners:
        ids.setdefault(owner)
    return sorted(ids)
