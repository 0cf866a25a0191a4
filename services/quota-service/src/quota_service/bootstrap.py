"""The composition root of quota-service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from provisio_common.service import ConsumerSpec, ServiceRuntime, create_app
from provisio_common.topics import CREDITS
from quota_service.adapters.tables import inbox, outbox
from quota_service.api import attainment, fx, payees, plans, quotas
from quota_service.consumers.handlers import on_credit
from quota_service.settings import QuotaSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"


def build_app(settings: QuotaSettings | None = None) -> FastAPI:
    def runtime() -> ServiceRuntime:
        return ServiceRuntime(
            settings=settings or QuotaSettings(),
            outbox=outbox,
            inbox=inbox,
            consumers=[ConsumerSpec("quota-service", {CREDITS.name: on_credit})],
        )

    return create_app(
        title="quota-service",
        description="Payees, the manager hierarchy, plans (versioned), quotas, attainment.",
        runtime_factory=runtime,
        routers=[plans.router, payees.router, quotas.router, fx.router, attainment.router],
    )
