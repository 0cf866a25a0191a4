"""Contests: prizes by rank of the window's measure once the window has ended (rules 21-22)."""

from __future__ import annotations

import heapq
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
    result: list[Award] = []
    rank = 0
    previous: Decimal | None = None
    for position, (value, payee) in enumerate(_leaders(values, max(prizes, default=0)), start=1):
        if value != previous:
            rank = position
            previous = value
        prize = prizes.get(rank)
        if prize is not None:
            result.append(Award(payee, rank, prize, value))
    return result


def _leaders(values: Mapping[str, Decimal], ranks: int) -> list[tuple[Decimal, str]]:
    """The entrants (value > 0) that can rank 1..`ranks`, as (value, payee), highest value
    first, ties by payee: those with a value at least the `ranks`-th highest (any other has
    `ranks` entrants strictly above it). Whoever ranks ahead of one of them is one of them,
    so each one's position is its position among all entrants."""
    entrants = [(v, p) for p, v in values.items() if v > 0]
    if ranks < len(entrants):
        if ranks == 0:
            return []
        least = heapq.nlargest(ranks, [v for v, _ in entrants])[-1]
        entrants = [(v, p) for v, p in entrants if v >= least]
    return sorted(entrants, key=lambda t: (-t[0], t[1]))
