"""Lookups the engine needs: quotas by period (rule 6) and fx rates by day (rule 16)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from provisio_calc.inputs import FxRate, InputInvalid, Quota
from provisio_calc.numbers import ONE
from provisio_calc.periods import period_children


class QuotaBook:
    """Quota rows, resolved per PLANS.md rule 6 (exact row, else a complete finer tiling)."""

    def __init__(self, quotas: Iterable[Quota]) -> None:
        self._rows: dict[tuple[str, str], Decimal] = {}
        for quota in quotas:
            key = (quota.payee, quota.period)
            known = self._rows.get(key)
            if known is not None and known != quota.amount:
                raise InputInvalid("amount", f"two different quotas for {quota.payee} in {quota.period}")
            self._rows[key] = quota.amount
        self._cache: dict[tuple[str, str], Decimal | None] = {}

    def replace(self, quota: Quota) -> None:
        """Set (or change) one quota row; resolved quotas are recomputed on demand."""
        self._rows[(quota.payee, quota.period)] = quota.amount
        self._cache.clear()

    def resolve(self, payee: str, period: str) -> Decimal | None:
        """The quota for exactly `period`, else the sum of finer rows tiling it, else None."""
        key = (payee, period)
        if key in self._cache:
            return self._cache[key]
        found = self._rows.get(key)
        if found is None:
            children = period_children(period)
            if children:
                parts = [self.resolve(payee, child) for child in children]
                if all(part is not None for part in parts):
                    found = sum((p for p in parts if p is not None), Decimal(0))
        self._cache[key] = found
        return found


class FxBook:
    """`from -> plan currency` rates; the latest on or before a day, no inverse or cross rates."""

    def __init__(self, rates: Iterable[FxRate], to_currency: str) -> None:
        by_pair: dict[str, dict[date, Decimal]] = {}
        for fx in rates:
            if fx.to_currency != to_currency:
                continue
            days = by_pair.setdefault(fx.from_currency, {})
            known = days.get(fx.day)
            if known is not None and known != fx.rate:
                raise InputInvalid(
                    "rate", f"two different {fx.from_currency}->{to_currency} rates on {fx.day}"
                )
            days[fx.day] = fx.rate
        self.to_currency = to_currency
        self._days: dict[str, list[date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for currency, days in by_pair.items():
            ordered = sorted(days)
            self._days[currency] = ordered
            self._rates[currency] = [days[d] for d in ordered]

    def set(self, fx: FxRate) -> bool:
        """Add or change one rate; False when it is not a `-> plan currency` rate."""
        if fx.to_currency != self.to_currency:
            return False
        days = self._days.setdefault(fx.from_currency, [])
        rates = self._rates.setdefault(fx.from_currency, [])
        index = bisect_right(days, fx.day)
        if index and days[index - 1] == fx.day:
            rates[index - 1] = fx.rate
        else:
            days.insert(index, fx.day)
            rates.insert(index, fx.rate)
        return True

    def rate(self, from_currency: str, day: date) -> Decimal | None:
        """The rate to convert 1 `from_currency` on `day`; 1 for the plan currency; None if missing."""
        if from_currency == self.to_currency:
            return ONE
        days = self._days.get(from_currency)
        if not days:
            return None
        index = bisect_right(days, day)
        if index == 0:
            return None
        return self._rates[from_currency][index - 1]
