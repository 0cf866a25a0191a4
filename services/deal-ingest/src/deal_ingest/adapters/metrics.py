"""deal-ingest's own metrics."""

from __future__ import annotations

from prometheus_client import Counter

DELIVERIES = Counter(
    "provisio_ingest_deliveries_total",
    "Webhook deliveries by source and outcome",
    ["source", "outcome"],
)
REFUSALS = Counter(
    "provisio_ingest_refusals_total",
    "Refused webhook deliveries by source and reason",
    ["source", "reason"],
)
NORMALIZATION_FAILURES = Counter(
    "provisio_ingest_normalization_failures_total",
    "Deliveries whose body could not be read",
    ["source"],
)
