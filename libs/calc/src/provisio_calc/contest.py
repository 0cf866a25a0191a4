"""Contests: prizes by rank of the window's measure once the window has ended (rules 21-22)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from provisio_calc.plan import Component, Prize


@dataclass(frozen=True, slots=True)
class Award:
    """One contest winner: rank, the prize won, and the value that ranked them."""

    payee: str
    rank: int
    prize: Prize
    value: Decimal


def awards(comp: Component, values: Mapping[str, Decimal], as_of: date) -> list[Award]:
    """Winners of a contest as of `as_of` (nothing before `window.to`).

    Entrants are payees with value > 0; rank = 1 + the number with a strictly higher
    value (1, 2, 2, 4), and each tied entrant gets that rank's full prize.
    """
    assert comp.window is not None
    if as_of < comp.window.to:
        return []
    prizes = {prize.rank: prize for prize in comp.prizes or ()}
    entrants = sorted(((v, p) for p, v in values.items() if v > 0), key=lambda t: (-t[0], t[1]))
    result: list[Award] = []
    rank = 0
    previous: Decimal | None = None
    for position, (value, payee) in enumerate(entrants, start=1):
        if value != previous:
            rank = position
            previous = value
        prize = prizes.get(rank)
        if prize is not None:
            result.append(Award(payee, rank, prize, value))
    return result
