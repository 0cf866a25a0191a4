"""The composition root of calc-engine: tables, repositories, consumers, routers."""

from __future__ import annotations

import functools
from pathlib import Path

from fastapi import FastAPI

from calc_engine.adapters.parsed_deals import ParsedDeals
from calc_engine.adapters.reference_data import ReferenceCache
from calc_engine.adapters.repositories import sql_repositories
from calc_engine.adapters.tables import shared
from calc_engine.api import deals, insight, ledger
from calc_engine.consumers.scheduler import contest_scheduler
from calc_engine.consumers.spec import consumers
from calc_engine.service_layer.clock import Clock, system_clock
from calc_engine.settings import CalcSettings
from provisio_common.service import ServiceRuntime, create_app

MIGRATIONS = Path(__file__).resolve().parents[2] / "alembic"


def build_app(settings: CalcSettings | None = None, clock: Clock = system_clock) -> FastAPI:
    """calc-engine's app; `clock` is "now" for the consumer's reconciliations and the
    contest scheduler (tests move it instead of waiting)."""

    def runtime() -> ServiceRuntime:
        chosen = settings or CalcSettings()
        return ServiceRuntime(
            settings=chosen,
            tables=shared,
            # One cache of parsed deals and one of reference data per process
            # (adapters.parsed_deals, adapters.reference_data).
            repositories=functools.partial(
                sql_repositories, parsed=ParsedDeals(), reference=ReferenceCache()
            ),
            consumers=consumers(clock),
            background=[contest_scheduler(clock, chosen.contest_check_interval_s)],
        )

    return create_app(
        title="calc-engine",
        description="Crediting, measures and plan components; the append-only commission ledger.",
        runtime_factory=runtime,
        routers=[ledger.router, deals.router, insight.router],
    )
