"""payout-service's own metrics (the shared ones live in provisio_common.metrics): batches
and lines by status, money approved and paid per currency, and the age of the oldest
approved batch payroll has not settled (ops alert on it); open disputes and the age of the
oldest one; pay periods by status; the webhook -> statement latency of ledger entries (ops
alert on its p99)."""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client import Counter, Gauge, Histogram

from payout_service.adapters.repositories import Batches, Disputes
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

PAY_PERIOD_STATUSES = ("open", "closed")
PAY_PERIODS = Gauge(
    "provisio_pay_periods",
    "Pay periods by status, as GET /pay-periods lists them: open (entries or adjustments in it) and closed",
    ["status"],
)
WEBHOOK_TO_STATEMENT = Histogram(
    "provisio_webhook_to_statement_seconds",
    "From deal-ingest accepting a webhook to a ledger entry it caused landing in payout-service's "
    "ledger (shown on statements); entries whose envelope carries accepted_at, first landing only",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0),
)

_oldest: list[float] = []
_counted: set[str] = set()  # the pay periods PAY_PERIODS counts now


def _age() -> float:
    return max(time.time() - _oldest[0], 0.0) if _oldest else 0.0


OLDEST_UNSETTLED.set_function(_age)

DISPUTES_OPEN = Gauge("provisio_disputes_open", "Disputes open (not resolved), payout-service")
OLDEST_OPEN_DISPUTE = Gauge(
    "provisio_dispute_oldest_open_age_seconds",
    "Age of the oldest open dispute since it was opened or reopened (0 when none)",
)

_oldest_dispute: list[float] = []


def _dispute_age() -> float:
    return max(time.time() - _oldest_dispute[0], 0.0) if _oldest_dispute else 0.0


OLDEST_OPEN_DISPUTE.set_function(_dispute_age)


async def show_batches(batches: Batches) -> None:
    """Set the gauges from the current batches (inside a unit of work)."""
    by_batch, by_line = await batches.counts()
    for batch_status in BATCH_STATUSES:
        BATCHES.labels(batch_status).set(by_batch.get(batch_status, 0))
    for line_status in LINE_STATUSES:
        LINES.labels(line_status).set(by_line.get(line_status, 0))
    oldest: datetime | None = await batches.oldest_unsettled_approval()
    _oldest[:] = [] if oldest is None else [oldest.timestamp()]


async def show_disputes(disputes: Disputes) -> None:
    """Set the dispute gauges from the current disputes (inside a unit of work)."""
    count, oldest = await disputes.open_summary()
    DISPUTES_OPEN.set(count)
    _oldest_dispute[:] = [] if oldest is None else [oldest.timestamp()]


def count_approved(currency: str, amount: Decimal) -> None:
    """A batch was approved for this much cash."""
    APPROVED.labels(currency).inc(float(amount))


def count_paid(lines: Iterable[BatchLine]) -> None:
    """Payroll acknowledged these lines; count the cash of the paid ones."""
    for line in lines:
        if line.status == "paid" and line.cash:
            PAID.labels(line.currency).inc(float(line.amount))


def show_pay_periods(statuses: Mapping[str, str]) -> None:
    """Set the pay-period gauge from every pay period's status (`pay period -> open|closed`)."""
    by_status = Tally(statuses.values())
    for status in PAY_PERIOD_STATUSES:
        PAY_PERIODS.labels(status).set(by_status.get(status, 0))
    _counted.clear()
    _counted.update(statuses)


def counts_pay_period(pay_period: str) -> bool:
    """Whether the pay-period gauge counts this pay period already (else it needs a refresh)."""
    return pay_period in _counted


def observe_webhook_to_statement(accepted_at: datetime, now: datetime | None = None) -> None:
    """A ledger entry caused by a webhook accepted at `accepted_at` landed `now` (never
    negative: the clocks of deal-ingest's and payout-service's hosts may differ a little)."""
    landed = now or datetime.now(UTC)
    WEBHOOK_TO_STATEMENT.observe(max((landed - accepted_at).total_seconds(), 0.0))
