"""The ledger rule: post E' - E for every (payee, component, period, day, deal) that
differs between what the plan says now and what has been posted. Append-only: nothing
is ever edited, a correction is another entry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from provisio_calc import Line


@dataclass(frozen=True, order=True)
class PostingKey:
    payee: str
    component: str
    period: str
    day: date
    deal: str | None


def desired_postings(lines: Iterable[Line]) -> dict[PostingKey, Decimal]:
    """What the ledger should sum to, per key, according to the engine's dated entries."""
    desired: dict[PostingKey, Decimal] = defaultdict(Decimal)
    for line in lines:
        for entry in line.entries:
            key = PostingKey(line.payee, line.component, line.period, entry.day, entry.deal)
            desired[key] += entry.amount
    return dict(desired)


def deltas(
    desired: Mapping[PostingKey, Decimal], posted: Mapping[PostingKey, Decimal]
) -> list[tuple[PostingKey, Decimal]]:
    """Every non-zero E' - E, in a stable order."""
    out = []
    for key in sorted(set(desired) | set(posted), key=_sort_key):
        delta = desired.get(key, Decimal(0)) - posted.get(key, Decimal(0))
        if delta != 0:
            out.append((key, delta))
    return out


def _sort_key(key: PostingKey) -> tuple[str, str, str, date, str]:
    return (key.payee, key.component, key.period, key.day, key.deal or "")
