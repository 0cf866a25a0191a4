"""The composition root of payout-service: tables, repositories, consumers, routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from payout_service.adapters.repositories import sql_repositories
from payout_service.adapters.tables import shared
from payout_service.api import statements
from payout_service.consumers.spec import consumers
from payout_service.settings import PayoutSettings
from provisio_common.service import ServiceRuntime, create_app

MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"


def build_app(settings: PayoutSettings | None = None) -> FastAPI:
    """The app; its runtime (engine, producer, relay, consumer) starts with its lifespan."""

    def runtime() -> ServiceRuntime:
        return ServiceRuntime(
            settings=settings or PayoutSettings(),
            tables=shared,
            repositories=sql_repositories,
            consumers=consumers(),
        )

    return create_app(
        title="payout-service",
        description="Statements per pay period from the ledger; payouts to payroll.",
        runtime_factory=runtime,
        routers=[statements.router],
    )
