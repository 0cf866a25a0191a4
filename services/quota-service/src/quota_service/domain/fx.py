"""FX rates: 1 `source` = `rate` `target` from `day` on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from provisio_common.money import is_currency_code


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
