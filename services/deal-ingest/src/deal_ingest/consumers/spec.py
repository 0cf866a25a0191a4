"""deal-ingest consumes nothing: CRMs reach it through its webhook doors (`api/webhooks.py`)
and it only produces `deals.v1` and `activities.v1`. Its consumer spec list is empty, so
the runtime starts no consumer group for it (the outbox relay still runs)."""

from __future__ import annotations

from provisio_common.service import ConsumerSpec


def consumers() -> list[ConsumerSpec]:
    """deal-ingest's consumer specs: none."""
    return []
