"""calc-engine's own metrics (the shared ones live in provisio_common.metrics)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Gauge, Histogram

from calc_engine.domain.input_check import KINDS

EXCEPTION_KINDS = {"missing_quota", "missing_fx", "bad_split", "unknown_payee"}
EXCEPTIONS = Gauge(
    "provisio_calc_exceptions", "Current calculation exceptions by kind (calc-engine)", ["kind"]
)


def show_exception_counts(counts: Mapping[str, int]) -> None:
    """Set the gauge to the current count of every kind (zero for kinds with none)."""
    for kind in EXCEPTION_KINDS | set(counts):
        EXCEPTIONS.labels(kind).set(counts.get(kind, 0))


INPUT_DIFFERENCES = Gauge(
    "provisio_calc_input_differences",
    "At the last POST /recompute: inputs calc-engine lacked or held differently from what "
    "deal-ingest and quota-service published (then asked for again), by kind",
    ["kind"],
)


def show_input_differences(counts: Mapping[str, int]) -> None:
    """Set the gauge for every kind (zero for kinds without a difference)."""
    for kind in KINDS:
        INPUT_DIFFERENCES.labels(kind).set(counts.get(kind, 0))


RUN_DEALS = Histogram(
    "provisio_calc_run_deals",
    "Deals one plan reconciliation loaded and computed, by scope: keyed (the lines and entries "
    "a batch of deal or quota events can change), periods (whole periods), plan (every period)",
    ["scope"],
    buckets=(0, 1, 10, 100, 1_000, 10_000, 100_000, 1_000_000),
)


def observe_run(deals: int, scope: str) -> None:
    """Count one plan reconciliation and the deals it computed."""
    RUN_DEALS.labels(scope).observe(deals)
