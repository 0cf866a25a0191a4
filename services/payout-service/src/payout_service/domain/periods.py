"""The pay calendar: pay periods (`2027-01`, `2027-Q1`, ...) close in order, one kind at a time.

Closed pay periods form a prefix of each kind's calendar: a pay period is closed when it
is at or before the last closed one of its kind. An entry (or an approved adjustment)
dated in a closed pay period lands in the first open one after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from payout_service.domain.errors import Conflict, Unprocessable
from provisio_calc.periods import parse_period, period_bounds, period_of


def kind_of(pay_period: str) -> str:
    """`month`, `quarter`, `half` or `year`."""
    return parse_period(pay_period)[0]


def check_pay_period(pay_period: str, field_name: str = "pay_period") -> str:
    """The pay period if it is one (`2027-01`, `2027-Q1`, `2027-H1`, `2027`), else 422."""
    try:
        parse_period(pay_period)
    except ValueError as exc:
        raise Unprocessable(field_name, str(exc)) from None
    return pay_period


def first_day(pay_period: str) -> date:
    """The first day of a pay period."""
    return period_bounds(pay_period)[0]


def last_day(pay_period: str) -> date:
    """The last day of a pay period (a batch's default pay date)."""
    return period_bounds(pay_period)[1]


def next_period(pay_period: str) -> str:
    """The pay period of the same kind right after this one."""
    return period_of(last_day(pay_period) + timedelta(days=1), kind_of(pay_period))


@dataclass(frozen=True)
class ClosedPayPeriod:
    """A closed pay period: who closed it, when, and how many statements it froze."""

    pay_period: str
    closed_at: datetime
    closed_by: str
    statements: int


@dataclass(frozen=True)
class Calendar:
    """Which pay periods are closed: the last closed one of each kind."""

    last_closed: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, closed: Iterable[ClosedPayPeriod]) -> Calendar:
        """The calendar of these closes."""
        last: dict[str, str] = {}
        for close in closed:
            kind = kind_of(close.pay_period)
            if close.pay_period > last.get(kind, ""):
                last[kind] = close.pay_period
        return cls(last)

    def is_closed(self, pay_period: str) -> bool:
        """True when the pay period is at or before the last closed one of its kind."""
        last = self.last_closed.get(kind_of(pay_period))
        return last is not None and pay_period <= last

    def landing(self, pay_period: str) -> str:
        """Where something dated in `pay_period` is paid: itself if open, else the first
        open pay period after the last closed one."""
        last = self.last_closed.get(kind_of(pay_period))
        if last is not None and pay_period <= last:
            return next_period(last)
        return pay_period

    def first_open(self, kind: str) -> str | None:
        """The first open pay period of a kind, None when none of that kind was closed."""
        last = self.last_closed.get(kind)
        return None if last is None else next_period(last)

    def check_close(self, pay_period: str, known: Iterable[str]) -> None:
        """Refuse (409) to close a closed pay period, or one with an earlier open one:
        after the last closed one of its kind, or, before any close, any earlier pay period
        with entries, adjustments or draws (`known`)."""
        kind = kind_of(pay_period)
        if self.is_closed(pay_period):
            raise Conflict(f"pay period {pay_period} is already closed")
        last = self.last_closed.get(kind)
        if last is not None:
            expected = next_period(last)
            if pay_period != expected:
                raise Conflict(f"pay period {expected} is still open; pay periods close in order")
            return
        earlier = sorted(p for p in known if kind_of(p) == kind and p < pay_period)
        if earlier:
            raise Conflict(f"pay period {earlier[0]} is still open; pay periods close in order")
