"""The engine's output: lines with their dated entries, payouts, and exceptions as data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from provisio_calc.numbers import format_decimal


@dataclass(frozen=True, slots=True)
class Entry:
    """One dated posting E' - E of a line (rules 23 and 25); `deal` is what caused it."""

    day: date
    amount: Decimal
    deal: str | None


# Entry's slot setters: the frozen dataclass's __init__ goes through object.__setattr__
# and costs about three times as much, and the engine posts one entry per change.
_NEW_OBJECT = object.__new__
_SET_DAY = Entry.__dict__["day"].__set__
_SET_AMOUNT = Entry.__dict__["amount"].__set__
_SET_DEAL = Entry.__dict__["deal"].__set__


def make_entry(day: date, amount: Decimal, deal: str | None) -> Entry:
    """`Entry(day, amount, deal)`, the same frozen object, built field by field."""
    entry = _NEW_OBJECT(Entry)
    _SET_DAY(entry, day)
    _SET_AMOUNT(entry, amount)
    _SET_DEAL(entry, deal)
    return entry


@dataclass(frozen=True, slots=True)
class Line:
    """One (payee, component, period) with its value, attainment and earnings."""

    payee: str
    component: str
    period: str
    value: Decimal
    attainment: Decimal | None
    earned: Decimal
    cash: bool
    explanation: dict[str, Any]
    entries: tuple[Entry, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, decimals as plain strings."""
        return {
            "payee": self.payee,
            "component": self.component,
            "period": self.period,
            "value": format_decimal(self.value),
            "attainment": None if self.attainment is None else format_decimal(self.attainment),
            "earned": format_decimal(self.earned),
            "cash": self.cash,
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Payout:
    """One (payee, pay period): earned, draw top-up, recovered, balance, payable, non-cash."""

    payee: str
    pay_period: str
    earned: Decimal
    draw_topup: Decimal
    recovered: Decimal
    balance: Decimal
    payable: Decimal
    non_cash: Decimal

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, decimals as plain strings."""
        return {
            "payee": self.payee,
            "pay_period": self.pay_period,
            "earned": format_decimal(self.earned),
            "draw_topup": format_decimal(self.draw_topup),
            "recovered": format_decimal(self.recovered),
            "balance": format_decimal(self.balance),
            "payable": format_decimal(self.payable),
            "non_cash": format_decimal(self.non_cash),
        }


@dataclass(frozen=True, slots=True)
class CalcException:
    """Something the engine could not compute: missing_quota, missing_fx, bad_split, unknown_payee."""

    kind: str
    payee: str | None
    deal: str | None
    detail: str
    # The measurement period a deal-less exception is about (missing_quota), so a run
    # scoped to some periods knows which exceptions it replaces. Not in the JSON output.
    period: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (`provisio calc`'s exception fields)."""
        return {"kind": self.kind, "payee": self.payee, "deal": self.deal, "detail": self.detail}


@dataclass(frozen=True)
class CalcResult:
    """Everything `calculate` computed for one plan."""

    plan: str
    currency: str
    lines: list[Line]
    payouts: list[Payout]
    exceptions: list[CalcException]
    # How many plan versions computed some day (each line's explanation names its own).
    versions: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The `provisio calc --format json` shape of PLANS.md."""
        return {
            "plan": self.plan,
            "currency": self.currency,
            "lines": [line.to_dict() for line in self.lines],
            "payouts": [payout.to_dict() for payout in self.payouts],
            "exceptions": [exc.to_dict() for exc in self.exceptions],
        }
