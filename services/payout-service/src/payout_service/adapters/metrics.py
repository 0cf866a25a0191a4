"""payout-service's own metrics (the shared ones live in provisio_common.metrics): batches
and lines by status, money approved and paid per currency, and the age of the oldest
approved batch payroll has not settled (ops alert on it)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from prometheus_client import Counter, Gauge

from payout_service.adapters.repositories import Batches
from payout_service.domain.batches import BATCH_STATUSES, LINE_STATUSES, BatchLine

BATCHES = Gauge("provisio_payout_batches", "Payout batches by status (payout-service)", ["status"])
LINES = Gauge("provisio_payout_batch_lines", "Payout batch lines by status (payout-service)", ["status"])
APPROVED = Counter(
    "provisio_payout_approved_amount",
    "Cash approved for payroll (sum of approved batches' cash lines), per currency",
    ["currency"],
)
PAID = Counter(
    "provisio_payout_paid_amount",
    "Cash payroll acknowledged as paid (sum of paid lines), per currency",
    ["currency"],
)
OLDEST_UNSETTLED = Gauge(
    "provisio_payout_oldest_unsettled_batch_age_seconds",
    "Age of the oldest approved batch payroll has not settled (0 when none)",
)

_oldest: list[float] = []


def _age() -> float:
    return max(time.time() - _oldest[0], 0.0) if _oldest else 0.0


OLDEST_UNSETTLED.set_function(_age)


async def show_batches(batches: Batches) -> None:
    """Set the gauges from the current batches (inside a unit of work)."""
    by_batch, by_line = await batches.counts()
    for batch_status in BATCH_STATUSES:
        BATCHES.labels(batch_status).set(by_batch.get(batch_status, 0))
    for line_status in LINE_STATUSES:
        LINES.labels(line_status).set(by_line.get(line_status, 0))
    oldest: datetime | None = await batches.oldest_unsettled_approval()
    _oldest[:] = [] if oldest is None else [oldest.timestamp()]


def count_approved(currency: str, amount: Decimal) -> None:
    """A batch was approved for this much cash."""
    APPROVED.labels(currency).inc(float(amount))


def count_paid(lines: Iterable[BatchLine]) -> None:
    """Payroll acknowledged these lines; count the cash of the paid ones."""
    for line in lines:
        if line.status == "paid" and line.cash:
            PAID.labels(line.currency).inc(float(line.amount))
