"""The composition root of payout-service: tables, repositories, consumers, routers."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from payout_service.adapters import metrics
from payout_service.adapters.repositories import sql_repositories
from payout_service.adapters.tables import shared
from payout_service.api import accounting, adjustments, batches, disputes, pay_periods, payroll, statements
from payout_service.consumers.spec import consumers
from payout_service.service_layer.pay_periods import pay_periods_in
from payout_service.settings import PayoutSettings
from provisio_common.service import ServiceRuntime, create_app

MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"


async def _show_metrics(runtime: ServiceRuntime) -> None:
    async with runtime.uow() as uow:
        await metrics.show_batches(uow.repos.batches)
        metrics.show_pay_periods({p.pay_period: p.status for p in await pay_periods_in(uow)})
        await metrics.show_disputes(uow.repos.disputes)


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
        description=(
            "Statements per pay period from the ledger, draws and adjustments; pay periods that "
            "close; disputes; payout batches that two admins approve and payroll pulls and "
            "acknowledges."
        ),
        runtime_factory=runtime,
        routers=[
            statements.router,
            pay_periods.router,
            adjustments.router,
            disputes.router,
            batches.router,
            payroll.router,
            accounting.router,
        ],
        on_started=_show_metrics,
    )
