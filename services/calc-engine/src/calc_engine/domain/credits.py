"""A deal's direct credits, and what `credits.v1` must say when they change."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from provisio_calc import BadSplit, Deal, direct_credits


def credits_of(deal: Deal | None) -> dict[str, Decimal]:
    """The deal's direct credit per payee; none for no deal or a bad split."""
    if deal is None:
        return {}
    try:
        return dict(direct_credits(deal))
    except BadSplit:
        return {}


def restated_shares(current: Mapping[str, Decimal], previous: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The share to publish per payee: the current ones, and zero for a payee credited
    before (the previous revision, or the same one before a CRM reference was resolved)
    but not now, so readers never keep a stale credit."""
    return {**{payee: Decimal(0) for payee in previous}, **current}
