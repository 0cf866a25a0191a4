"""The service's clock: what "now" is for reconciliations and the contest scheduler.

Injectable (`build_app(settings, clock=...)`) so tests move time instead of waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def as_of_day(clock: Clock) -> date:
    """The as-of day of a reconciliation: today in UTC by `clock` (as the ledger always used)."""
    return clock().astimezone(UTC).date()
