"""Payout batches: built from a closed pay period, approved by a second admin, pulled and
acknowledged by payroll.

A batch holds one line per (payee, currency, earning code) of one pay period and currency.
A payee's cash lines sum exactly to their rounded payable (each line is rounded and the
difference goes to their largest line). A line payroll rejected, or one held back for a
payee without a payroll id (an `exception`), is carried into the next batch built in its
currency (`carried_from`). A ledger entry is never in two lines that are pending or paid.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from payout_service.domain.adjustments import Adjustment
from payout_service.domain.errors import Conflict, Unprocessable
from payout_service.domain.statements import LedgerEntry, StatementRow
from provisio_common.money import exact_sum, round_money

ZERO = Decimal(0)
BatchStatus = Literal["draft", "approved", "settled", "cancelled"]
BATCH_STATUSES: tuple[BatchStatus, ...] = ("draft", "approved", "settled", "cancelled")
LineStatus = Literal["pending", "paid", "rejected", "exception", "cancelled"]
LINE_STATUSES: tuple[LineStatus, ...] = ("pending", "paid", "rejected", "exception", "cancelled")
SENT: tuple[LineStatus, ...] = ("pending", "paid", "rejected")
"""Lines payroll sees (an `exception` stays in Provisio until the payee has a payroll id)."""
LIVE: tuple[LineStatus, ...] = ("pending", "paid")
"""Lines whose ledger entries are spoken for."""
CASH_CODES = ("commission", "bonus", "spif", "contest", "draw", "adjustment")


@dataclass(frozen=True)
class BatchLine:
    """What one payee is paid under one earning code, for one pay period and currency."""

    id: str
    batch_id: str
    payee: str
    payroll_id: str | None
    pay_period: str
    currency: str
    earning_code: str
    amount: Decimal
    cash: bool
    status: LineStatus
    entry_ids: tuple[str, ...] = ()
    adjustment_ids: tuple[str, ...] = ()
    carried_from: str | None = None
    payroll_ref: str | None = None
    reason: str | None = None
    settled_at: datetime | None = None


@dataclass(frozen=True)
class Batch:
    """One payout batch of a pay period in one currency."""

    id: str
    pay_period: str
    currency: str
    pay_date: date
    status: BatchStatus
    built_by: str
    built_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    approval_seq: int | None = None
    cancelled_by: str | None = None
    cancelled_at: datetime | None = None
    pulled_at: datetime | None = None
    settled_at: datetime | None = None


def total(lines: Iterable[BatchLine]) -> Decimal:
    """The cash payroll is asked to pay: the sum of the cash lines it sees."""
    return exact_sum(line.amount for line in lines if line.cash and line.status in SENT)


def _code(kind: str) -> str:
    return kind if kind in ("commission", "bonus", "spif", "contest") else "commission"


Part = tuple[str, Decimal, bool, tuple[str, ...], tuple[str, ...]]
"""(earning code, amount, cash, entry ids, adjustment ids) of one line to be."""


def _fold(full: dict[str, Decimal], ids: dict[str, list[str]]) -> None:
    """Take negative amounts (clawbacks, recoveries) out of the positive lines, smallest
    first, so no line is negative; a line that folds away hands its ids to the largest."""
    deficit = -exact_sum(amount for amount in full.values() if amount < 0)
    positive = sorted((c for c in full if full[c] > 0), key=lambda c: (full[c], -CASH_CODES.index(c)))
    largest = positive[-1]
    for code in [c for c in full if full[c] <= 0]:
        ids[largest] += ids.pop(code, [])
        del full[code]
    for code in positive[:-1]:
        taken = min(full[code], deficit)
        full[code] -= taken
        deficit -= taken
        if full[code] == 0:
            ids[largest] += ids.pop(code, [])
            del full[code]
    full[largest] -= deficit


def payee_lines(
    row: StatementRow,
    entries: Sequence[LedgerEntry],
    adjustments: Sequence[Adjustment],
    kind: Callable[[LedgerEntry], str],
) -> list[Part]:
    """A closed row split into lines by earning code.

    Cash lines only when the payable is positive. `draw` is the top-up less what was
    recovered; `adjustment` the approved adjustments and what was carried in. Negative
    amounts are taken out of the other lines (no line is negative), each line is rounded
    with the plan's mode and the difference goes to the largest, so the lines sum exactly
    to the payable. The `non_cash_award` line carries the value of non-cash awards."""
    amounts: dict[str, list[Decimal]] = {}
    ids: dict[str, list[str]] = {}
    for entry in entries:
        code = _code(kind(entry)) if entry.cash else "non_cash_award"
        amounts.setdefault(code, []).append(entry.amount)
        ids.setdefault(code, []).append(entry.entry_id)
    amounts["draw"] = [row.draw_topup, -row.recovered]
    amounts["adjustment"] = [row.adjustments, row.carried_in]
    ids["adjustment"] = [f"adjustment:{a.id}" for a in adjustments]
    out: list[Part] = []
    if row.payable > 0:
        full = {code: exact_sum(amounts.get(code, [])) for code in CASH_CODES}
        full = {code: amount for code, amount in full.items() if amount != 0 or ids.get(code)}
        _fold(full, ids)
        rounded = {code: round_money(amount, row.currency, row.rounding) for code, amount in full.items()}
        largest = max(full, key=lambda code: (full[code], -CASH_CODES.index(code)))
        rounded[largest] += row.payable - exact_sum(rounded.values())
        for code in CASH_CODES:
            if code in rounded:
                mine = ids.get(code, [])
                entry_ids = tuple(sorted(i for i in mine if not i.startswith("adjustment:")))
                adjustment_ids = tuple(
                    sorted(i.removeprefix("adjustment:") for i in mine if i.startswith("adjustment:"))
                )
                out.append((code, rounded[code], True, entry_ids, adjustment_ids))
    value = exact_sum(amounts.get("non_cash_award", []))
    if value > 0:
        award = round_money(value, row.currency, row.rounding)
        out.append(("non_cash_award", award, False, tuple(sorted(ids["non_cash_award"])), ()))
    return out


def carried(line: BatchLine, batch_id: str, line_id: str, payroll_id: str | None) -> BatchLine:
    """A rejected or held-back line, carried into a new batch."""
    return replace(
        line,
        id=line_id,
        batch_id=batch_id,
        payroll_id=payroll_id,
        status="pending" if payroll_id else "exception",
        carried_from=line.id,
        payroll_ref=None,
        reason=None,
        settled_at=None,
    )


def approve(batch: Batch, by: str, at: datetime, seq: int) -> Batch:
    """Approve a draft: only by an admin other than the builder (two-person rule)."""
    if batch.status != "draft":
        raise Conflict(f"batch {batch.id} is {batch.status}; only a draft can be approved")
    if by == batch.built_by:
        raise Conflict(f"{by!r} built batch {batch.id}; another admin must approve it")
    return replace(batch, status="approved", approved_by=by, approved_at=at, approval_seq=seq)


def cancel(batch: Batch, by: str, at: datetime) -> Batch:
    """Cancel a draft or an approved batch payroll has not pulled yet."""
    if batch.status not in ("draft", "approved"):
        raise Conflict(f"batch {batch.id} is {batch.status}; it cannot be cancelled")
    if batch.pulled_at is not None:
        pulled = batch.pulled_at.isoformat()
        raise Conflict(f"payroll pulled batch {batch.id} at {pulled}; it cannot be cancelled")
    return replace(batch, status="cancelled", cancelled_by=by, cancelled_at=at)


@dataclass(frozen=True)
class Ack:
    """Payroll's word on one line."""

    line_id: str
    status: Literal["paid", "rejected"]
    payroll_ref: str | None = None
    reason: str | None = None


def acknowledge(
    batch: Batch, lines: Sequence[BatchLine], acks: Sequence[Ack], at: datetime
) -> tuple[Batch, list[BatchLine]]:
    """Settle lines as payroll says; return the batch (settled when every line it sent is)
    and the lines that changed. A line acknowledged again with its status changes nothing;
    with another status it is a conflict; a line the batch does not send is unprocessable."""
    if batch.status not in ("approved", "settled"):
        raise Conflict(f"batch {batch.id} is {batch.status}; only an approved batch is acknowledged")
    by_id = {line.id: line for line in lines if line.status in SENT}
    wanted: dict[str, Ack] = {}
    for i, ack in enumerate(acks):
        if ack.line_id not in by_id:
            raise Unprocessable(f"lines[{i}].line_id", f"batch {batch.id} has no line {ack.line_id!r}")
        if ack.line_id in wanted and wanted[ack.line_id].status != ack.status:
            raise Unprocessable(f"lines[{i}].status", f"line {ack.line_id} is acknowledged twice")
        wanted[ack.line_id] = ack
    changed: list[BatchLine] = []
    for line_id, ack in wanted.items():
        line = by_id[line_id]
        if line.status == ack.status:
            continue
        if line.status != "pending":
            raise Conflict(f"line {line_id} is already {line.status}")
        settled = replace(
            line, status=ack.status, payroll_ref=ack.payroll_ref, reason=ack.reason, settled_at=at
        )
        by_id[line_id] = settled
        changed.append(settled)
    if all(line.status != "pending" for line in by_id.values()) and batch.status == "approved":
        batch = replace(batch, status="settled", settled_at=at)
    return batch, changed


def encode_cursor(seq: int) -> str:
    """An opaque cursor for a position in the order batches were approved."""
    return base64.urlsafe_b64encode(f"approved:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The approval position a cursor names; 422 for one this service did not write."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = text.partition(":")
        if prefix != "approved" or not seq.isdigit():
            raise ValueError(text)
        return int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unprocessable("after", "not a cursor this service gave") from None


@dataclass(frozen=True)
class AckRecord:
    """One acknowledgement request as first answered, under its Idempotency-Key."""

    key: str
    batch_id: str
    fingerprint: str
    response: dict[str, object]
    created_at: datetime
