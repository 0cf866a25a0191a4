"""The composition root of quota-service: tables, repositories, consumers, routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from provisio_common.service import ServiceRuntime, create_app
from quota_service.adapters.repositories import sql_repositories
from quota_service.adapters.tables import shared
from quota_service.api import (
    attainment,
    fx,
    imports,
    me,
    payees,
    plans,
    published,
    quotas,
    scorecards,
    targets,
    teams,
)
from quota_service.consumers.spec import consumers
from quota_service.settings import QuotaSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"


def build_app(settings: QuotaSettings | None = None) -> FastAPI:
    """The quota-service app (`GET /dlq` and `POST /dlq/{id}/replay` come with `create_app`)."""

    def runtime() -> ServiceRuntime:
        return ServiceRuntime(
            settings=settings or QuotaSettings(),
            tables=shared,
            repositories=sql_repositories,
            consumers=consumers(),
        )

    return create_app(
        title="quota-service",
        description=(
            "Payees, the manager hierarchy, teams and territories, plans (versioned), quotas, KPI targets, "
            "fx rates, attainment, the KPI catalogue, scorecards and leaderboards, bulk import."
        ),
        runtime_factory=runtime,
        routers=[
            me.router,
            plans.router,
            payees.router,
            teams.router,
            quotas.router,
            targets.router,
            fx.router,
            attainment.router,
            scorecards.router,
            imports.router,
            published.router,
        ],
    )
