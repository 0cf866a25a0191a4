"""The ledger rule: post E' - E for every (payee, component, period, day, deal) that
differs between what the plan says now and what has been posted. Append-only: nothing
is ever edited, a correction is another entry."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from provisio_calc import Line
from provisio_common.money import exact_sum


@dataclass(frozen=True, order=True)
class PostingKey:
    payee: str
    component: str
    period: str
    day: date
    deal: str | None


@dataclass(frozen=True)
class LedgerEntry:
    """One stored ledger entry: a delta E' - E with the line's explanation."""

    entry_id: str
    payee: str
    plan: str
    plan_version: int
    component: str
    period: str
    entry_date: date
    pay_period: str
    amount: Decimal
    currency: str
    cash: bool
    deal: str | None
    cause_event: str
    explanation: dict[str, Any]
    posted_at: datetime

    @property
    def key(self) -> PostingKey:
        """The posting key this entry counts towards: its day is the engine's date of the
        amount (`engine_date` of a re-dated entry, else `entry_date`)."""
        return PostingKey(self.payee, self.component, self.period, engine_date(self), self.deal)


# A correction caused by a plan version change is paid on the day the version was made
# (PLANS.md "Payout") but still counts towards the posting key of the day the engine dates
# the amount: the explanation keeps that day, so later reconciliations compare like with like.
ENGINE_DATE = "engine_date"


def engine_date(entry: LedgerEntry) -> date:
    """The day the engine dates an entry's amount (see ENGINE_DATE)."""
    found = entry.explanation.get(ENGINE_DATE)
    return date.fromisoformat(found) if isinstance(found, str) else entry.entry_date


def posting_day(key_day: date, redate: date | None) -> date:
    """The `entry_date` of a delta for a key of `key_day`: the day of the plan change when
    the key's day is before it (the change is paid when it was made), else the key's day."""
    return key_day if redate is None or key_day >= redate else redate


def redated_explanation(
    explanation: dict[str, Any], key_day: date, entry_day: date, why: str
) -> dict[str, Any]:
    """The explanation of an entry posted on `entry_day` for a key of `key_day`."""
    if entry_day == key_day:
        return explanation
    return {**explanation, ENGINE_DATE: key_day.isoformat(), "redated": why}


def desired_postings(lines: Iterable[Line]) -> dict[PostingKey, Decimal]:
    """What the ledger should sum to, per key, according to the engine's dated entries."""
    parts: dict[PostingKey, list[Decimal]] = defaultdict(list)
    for line in lines:
        for entry in line.entries:
            key = PostingKey(line.payee, line.component, line.period, entry.day, entry.deal)
            parts[key].append(entry.amount)
    return {key: exact_sum(amounts) for key, amounts in parts.items()}


def deltas(
    desired: Mapping[PostingKey, Decimal], posted: Mapping[PostingKey, Decimal]
) -> list[tuple[PostingKey, Decimal]]:
    """Every non-zero E' - E, in a stable order."""
    out = []
    for key in sorted(set(desired) | set(posted), key=_sort_key):
        delta = exact_sum((desired.get(key, Decimal(0)), posted.get(key, Decimal(0)).copy_negate()))
        if delta != 0:
            out.append((key, delta))
    return out


def _sort_key(key: PostingKey) -> tuple[str, str, str, date, str]:
    return (key.payee, key.component, key.period, key.day, key.deal or "")


# The line's totals, left off an entry whose run did not load every deal of the line.
LINE_TOTALS = ("value", "credited_deals", "earned")


def entry_explanation(
    line: Line | None, deal: str | None, plan_version: int, totals: bool = True
) -> dict[str, Any]:
    """The line's arithmetic (value, quota, attainment, bands, rate, earned) for one entry.

    The per-deal lists of the line are left out (they would make every entry as large as
    its period); the entry keeps the credit of its own deal, and the line's other deals
    are on their own entries. Without `totals` (a keyed run's entry on a linear line it
    computed from this deal alone, `domain.keyed`), the line's totals are left out too:
    the entry is this deal's credit times the rate, and the line's sum is the statement's.
    """
    if line is None:
        return {"reason": "the line no longer earns", "plan_version": plan_version}
    left_out = ("credits", "entries") if totals else ("credits", "entries", *LINE_TOTALS)
    explanation = {k: v for k, v in line.explanation.items() if k not in left_out}
    explanation["plan_version"] = plan_version
    for credit in line.explanation.get("credits", []):
        if deal is not None and credit.get("deal") == deal:
            explanation["deal_credit"] = credit
    return explanation
