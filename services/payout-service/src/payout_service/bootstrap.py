"""The composition root of payout-service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from payout_service.adapters.tables import inbox, outbox
from payout_service.api import statements
from payout_service.consumers.handlers import on_ledger_entry, on_payee
from payout_service.settings import PayoutSettings
from provisio_common.service import ConsumerSpec, ServiceRuntime, create_app
from provisio_common.topics import LEDGER, PAYEES

MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"


def build_app(settings: PayoutSettings | None = None) -> FastAPI:
    def runtime() -> ServiceRuntime:
        return ServiceRuntime(
            settings=settings or PayoutSettings(),
            outbox=outbox,
            inbox=inbox,
            consumers=[ConsumerSpec("payout-service", {LEDGER.name: on_ledger_entry, PAYEES.name: on_payee})],
        )

    return create_app(
        title="payout-service",
        description="Statements per pay period from the ledger; payouts to payroll.",
        runtime_factory=runtime,
        routers=[statements.router],
    )
