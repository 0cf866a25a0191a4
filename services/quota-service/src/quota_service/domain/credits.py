"""Credits: the replica of calc-engine's `credits.v1` that attainment is measured on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from provisio_common.events import CreditRecord


@dataclass(frozen=True)
class Credit:
    """The latest credit of one deal to one payee."""

    deal: str
    payee: str
    revision: int
    amount: Decimal
    currency: str
    status: str
    close_date: date | None


def credit_of(record: CreditRecord) -> Credit:
    """The replica row of a `credits.v1` record (a close timestamp keeps only its day)."""
    close = record.close_date
    close_day = close.date() if isinstance(close, datetime) else close
    return Credit(
        deal=record.deal,
        payee=record.payee,
        revision=record.revision,
        amount=record.amount,
        currency=record.currency,
        status=record.status,
        close_date=close_day,
    )


def replaces(new: Credit, held: Credit | None) -> bool:
    """A credit replaces the one held unless it is an older revision. The same revision may
    be re-credited (a CRM reference resolved later): per-payee partition order makes the
    later message the right one."""
    return held is None or held.revision <= new.revision


@dataclass(frozen=True)
class Commission:
    """One `ledger.v1` entry kept for the KPIs: a delta of a payee's earnings, dated."""

    entry_id: str
    payee: str
    entry_date: date
    amount: Decimal
    currency: str
