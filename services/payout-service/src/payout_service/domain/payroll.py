"""What payroll imports: a batch's lines as CSV, in the neutral layout or mapped to one
payroll system's column names and earning codes (the `PROVISIO_PAYROLL_*` settings)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from payout_service.domain.batches import SENT, Batch, BatchLine
from provisio_common.money import format_minor

COLUMNS = (
    "batch_id",
    "line_id",
    "employee_id",
    "earning_code",
    "amount",
    "currency",
    "cash",
    "pay_date",
    "reference",
)


@dataclass(frozen=True)
class PayrollLayout:
    """Column names and earning codes of one payroll system (default: the neutral ones)."""

    columns: Mapping[str, str] = field(default_factory=dict)
    earning_codes: Mapping[str, str] = field(default_factory=dict)

    def header(self) -> list[str]:
        """The header row."""
        return [self.columns.get(c, c) for c in COLUMNS]

    def code(self, earning_code: str) -> str:
        """The payroll system's code for a Provisio earning code."""
        return self.earning_codes.get(earning_code, earning_code)


def reference(line: BatchLine) -> str:
    """What a payslip shows for the line: pay period, payee and Provisio's line id."""
    return f"provisio {line.pay_period} {line.payee} {line.id}"


def lines_csv(batch: Batch, lines: Iterable[BatchLine], layout: PayrollLayout) -> str:
    """The batch's lines payroll sees, one CSV row each (amounts in minor-unit precision)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(layout.header())
    for line in lines:
        if line.status not in SENT:
            continue
        writer.writerow(
            [
                batch.id,
                line.id,
                line.payroll_id or "",
                layout.code(line.earning_code),
                format_minor(line.amount, line.currency),
                line.currency,
                "true" if line.cash else "false",
                batch.pay_date.isoformat(),
                reference(line),
            ]
        )
    return out.getvalue()
