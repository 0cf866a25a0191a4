"""Prometheus metrics shared by every service; each carries a `service` label.

Defined once at import so several services can live in one process (tests) without
registering twice.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "provisio_http_requests_total",
    "HTTP requests by route and status",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "provisio_http_request_duration_seconds",
    "HTTP request latency in seconds",
    ["service", "method", "route"],
)
CONSUMED = Counter(
    "provisio_consumer_messages_total",
    "Messages handled by a consumer, by outcome (applied, duplicate, dead_lettered, retried)",
    ["service", "consumer", "topic", "outcome"],
)
CONSUMER_LAG = Gauge(
    "provisio_consumer_lag_messages",
    "High watermark minus position, per consumed partition",
    ["service", "consumer", "topic", "partition"],
)
CONSUMER_PARTITIONS = Gauge(
    "provisio_consumer_assigned_partitions",
    "Partitions of each topic this process's consumer holds (set at every rebalance)",
    ["service", "consumer", "topic"],
)
DLQ_MESSAGES = Counter(
    "provisio_dlq_messages_total",
    "Messages sent to a dead-letter topic",
    ["service", "consumer", "topic"],
)
DLQ_DEPTH = Gauge(
    "provisio_dlq_depth_messages",
    "Dead-lettered messages not yet replayed (the service's dead_letters table)",
    ["service"],
)
OUTBOX_BACKLOG = Gauge("provisio_outbox_backlog_rows", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "provisio_outbox_oldest_unsent_age_seconds",
    "Age of the oldest unpublished outbox row (0 when none)",
    ["service"],
)
OUTBOX_PARKED = Gauge(
    "provisio_outbox_parked_rows",
    "Outbox rows set aside because they can never be published (too large, unserializable), "
    "with the rows of their keys held behind them; listed by GET /outbox/parked",
    ["service"],
)
OUTBOX_PUBLISHED = Counter("provisio_outbox_published_total", "Outbox rows published", ["service", "topic"])
OUTBOX_REPLAYS = Counter(
    "provisio_outbox_replays_total",
    "Times the outbox was re-published because the broker had lost its topics",
    ["service"],
)

EVENT_LOOP_LAG = Gauge(
    "provisio_event_loop_lag_seconds",
    "How late the event loop woke a task sleeping a fixed interval: the largest overshoot "
    "of the last 10 s (provisio_common.loop_lag)",
    ["service"],
)


def render_latest() -> tuple[bytes, str]:
    """The current exposition text and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST
