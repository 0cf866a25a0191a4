"""The composition root of deal-ingest: tables, repositories, consumers (none), routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from deal_ingest.adapters.repositories import sql_repositories
from deal_ingest.adapters.tables import shared
from deal_ingest.api import admin, deals, webhooks
from deal_ingest.consumers.spec import consumers
from deal_ingest.settings import IngestSettings
from provisio_common.service import ServiceRuntime, create_app

MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"


def build_app(settings: IngestSettings | None = None) -> FastAPI:
    """deal-ingest's app; settings are read from the environment at start when not given."""

    def runtime() -> ServiceRuntime:
        return ServiceRuntime(
            settings=settings or IngestSettings(),
            tables=shared,
            repositories=sql_repositories,
            consumers=consumers(),
        )

    return create_app(
        title="deal-ingest",
        description="CRM webhooks in; raw log, deal snapshots and revisions; deals.v1 out.",
        runtime_factory=runtime,
        routers=[webhooks.router, deals.router, admin.router],
    )
