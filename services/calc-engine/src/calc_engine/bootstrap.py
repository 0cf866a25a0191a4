"""The composition root of calc-engine."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from calc_engine.adapters.tables import inbox, outbox
from calc_engine.api import deals, ledger
from calc_engine.consumers.handlers import (
    on_activity,
    on_deal,
    on_fx_rate,
    on_payee,
    on_plan,
    on_quota,
    reconcile_pending,
)
from calc_engine.settings import CalcSettings
from provisio_common.service import ConsumerSpec, ServiceRuntime, create_app
from provisio_common.topics import ACTIVITIES, DEALS, FXRATES, PAYEES, PLANS, QUOTAS

MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"


def consumers() -> list[ConsumerSpec]:
    # One group, one loop: events are applied one at a time in this process; replicas
    # serialize per plan in the database.
    return [
        ConsumerSpec(
            name="calc-engine",
            handlers={
                PLANS.name: on_plan,
                PAYEES.name: on_payee,
                QUOTAS.name: on_quota,
                FXRATES.name: on_fx_rate,
                DEALS.name: on_deal,
                ACTIVITIES.name: on_activity,
            },
            finisher=reconcile_pending,
        )
    ]


def build_app(settings: CalcSettings | None = None) -> FastAPI:
    def runtime() -> ServiceRuntime:
        return ServiceRuntime(
            settings=settings or CalcSettings(), outbox=outbox, inbox=inbox, consumers=consumers()
        )

    return create_app(
        title="calc-engine",
        description="Crediting, measures and plan components; the append-only commission ledger.",
        runtime_factory=runtime,
        routers=[ledger.router, deals.router],
    )
