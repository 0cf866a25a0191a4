"""FX rates: 1 `source` = `rate` `target` from `day` on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from provisio_calc.books import FxBook
from provisio_calc.inputs import FxRate as CalcFxRate
from provisio_common.money import exact_product, is_currency_code


@dataclass(frozen=True)
class FxRate:
    """The rate from one currency to another, valid from `day` on."""

    day: date
    source: str
    target: str
    rate: Decimal

    @property
    def key(self) -> str:
        """`day:from:to`, the key of `fxrates.v1`."""
        return f"{self.day.isoformat()}:{self.source}:{self.target}"


def fx_rate_problems(source: str, target: str, rate: Decimal) -> list[dict[str, str]]:
    """Every field that makes a rate unacceptable."""
    errors = [
        {"field": name, "message": "must be an ISO 4217 currency code such as EUR"}
        for name, code in (("source", source), ("target", target))
        if not is_currency_code(code)
    ]
    if source == target:
        errors.append({"field": "target", "message": "must differ from source"})
    if rate <= 0:
        errors.append({"field": "rate", "message": "must be positive"})
    return errors


class Converter:
    """Converts amounts into one currency with the rates held (PLANS.md rule 16): only a
    `from = amount currency, to = target` rate is used, the latest on or before the day;
    no inverse or cross rates. A missing rate gives None: reported, never guessed."""

    def __init__(self, rates: Iterable[FxRate], target: str) -> None:
        self.target = target
        self._book = FxBook((CalcFxRate(r.day, r.source, r.target, r.rate) for r in rates), target)

    def rate(self, currency: str, day: date) -> Decimal | None:
        """1 `currency` in the target currency on `day` (1 for the target itself), or None."""
        return self._book.rate(currency, day)

    def convert(self, amount: Decimal, currency: str, day: date) -> Decimal | None:
        """`amount` of `currency` on `day` in the target currency, exactly; None without a rate."""
        rate = self.rate(currency, day)
        return None if rate is None else exact_product(amount, rate)
