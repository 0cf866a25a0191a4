"""calc-engine's own metrics (the shared ones live in provisio_common.metrics)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Gauge

EXCEPTION_KINDS = {"missing_quota", "missing_fx", "bad_split", "unknown_payee"}
EXCEPTIONS = Gauge(
    "provisio_calc_exceptions", "Current calculation exceptions by kind (calc-engine)", ["kind"]
)


def show_exception_counts(counts: Mapping[str, int]) -> None:
    """Set the gauge to the current count of every kind (zero for kinds with none)."""
    for kind in EXCEPTION_KINDS | set(counts):
        EXCEPTIONS.labels(kind).set(counts.get(kind, 0))
