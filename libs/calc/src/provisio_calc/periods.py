"""Calendar periods (month, quarter, half, year) and local days in a plan's timezone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PERIOD_KINDS: tuple[str, ...] = ("month", "quarter", "half", "year")
MONTHS_IN: dict[str, int] = {"month": 1, "quarter": 3, "half": 6, "year": 12}

_PERIOD_RE = re.compile(r"^(\d{4})(?:-(H[12]|Q[1-4]|0[1-9]|1[0-2]))?$")


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; raises ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown timezone {name!r}") from None


def parse_when(value: str) -> date | datetime:
    """An ISO 8601 date ("2027-03-31") or timestamp ("2027-03-31T23:30:00Z")."""
    text = value.strip()
    try:
        if len(text) <= 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or timestamp: {value!r}") from None


def local_day(value: date | datetime | str, tz: str) -> date:
    """The calendar day of `value` in timezone `tz` (PLANS.md rule 1).

    A bare date is that day in `tz`; a timestamp is converted to `tz`, and a
    timestamp without an offset is taken as UTC.
    """
    if type(value) is date:
        return value  # the common case, first
    if isinstance(value, str):
        value = parse_when(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(zone(tz)).date()
    return value


def local_instant(value: date | datetime, tz: str) -> tuple[date, int]:
    """(local day, microseconds since local midnight): an ordering key; bare dates sort first."""
    if type(value) is date:
        return value, 0  # the common case, first
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        local = value.astimezone(zone(tz))
        micros = ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000
        return local.date(), micros + local.microsecond
    return value, 0


def period_of(day: date, kind: str) -> str:
    """The period of `kind` (month|quarter|half|year) containing `day`: "2027-01", "2027-Q1", ..."""
    if kind == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if kind == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    if kind == "half":
        return f"{day.year:04d}-H{(day.month - 1) // 6 + 1}"
    if kind == "year":
        return f"{day.year:04d}"
    raise ValueError(f"unknown period kind {kind!r}")


def pay_period_of(day: date, pay_frequency: str) -> str:
    """The pay period of `pay_frequency` containing `day` (same notation as periods)."""
    return period_of(day, pay_frequency)


def parse_period(text: str) -> tuple[str, int, int]:
    """("quarter", 2027, 1) for "2027-Q1"; raises ValueError for anything else."""
    match = _PERIOD_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a period (2027, 2027-H1, 2027-Q1 or 2027-01): {text!r}")
    year = int(match.group(1))
    part = match.group(2)
    if part is None:
        return "year", year, 1
    if part[0] == "H":
        return "half", year, int(part[1])
    if part[0] == "Q":
        return "quarter", year, int(part[1])
    return "month", year, int(part)


def period_bounds(text: str) -> tuple[date, date]:
    """First and last day of a period."""
    kind, year, index = parse_period(text)
    months = MONTHS_IN[kind]
    first_month = (index - 1) * months + 1
    first = date(year, first_month, 1)
    last_month = first_month + months
    nxt = date(year + 1, 1, 1) if last_month > 12 else date(year, last_month, 1)
    return first, nxt - timedelta(days=1)


def period_children(text: str) -> list[str]:
    """The next finer periods that tile `text` (year -> halves -> quarters -> months)."""
    kind, year, index = parse_period(text)
    if kind == "year":
        return [f"{year:04d}-H1", f"{year:04d}-H2"]
    if kind == "half":
        return [f"{year:04d}-Q{(index - 1) * 2 + q}" for q in (1, 2)]
    if kind == "quarter":
        return [f"{year:04d}-{(index - 1) * 3 + m:02d}" for m in (1, 2, 3)]
    return []


def periods_between(first: date, last: date, kind: str) -> list[str]:
    """Every period of `kind` from the one containing `first` through the one containing `last`."""
    result: list[str] = []
    if last < first:
        return result
    current = period_bounds(period_of(first, kind))[0]
    end = period_of(last, kind)
    while True:
        name = period_of(current, kind)
        result.append(name)
        if name == end:
            return result
        current = period_bounds(name)[1] + timedelta(days=1)
