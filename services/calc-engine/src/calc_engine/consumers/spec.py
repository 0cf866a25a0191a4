"""calc-engine's consumer: one group over every topic it replicates, one finisher."""

from __future__ import annotations

from calc_engine.service_layer import CalcUoW
from calc_engine.service_layer.clock import Clock, system_clock
from calc_engine.service_layer.handlers import (
    on_activity,
    on_deal,
    on_fx_rate,
    on_payee,
    on_plan,
    on_quota,
    reconcile_pending,
)
from provisio_common.events import (
    ActivityRecord,
    DealSnapshot,
    Envelope,
    FxRateRecord,
    PayeeRecord,
    PlanVersion,
    QuotaRecord,
)
from provisio_common.service import ConsumerSpec


def consumers(clock: Clock = system_clock) -> list[ConsumerSpec]:
    """One group, one loop: events are applied in this process one unit of work at a time
    (a batch shares one reconciliation, as of `clock`'s day); replicas serialize per plan
    in the database."""

    async def finisher(uow: CalcUoW, applied: list[Envelope]) -> None:
        await reconcile_pending(uow, applied, clock)

    return [
        ConsumerSpec(
            name="calc-engine",
            handlers={
                PlanVersion: on_plan,
                PayeeRecord: on_payee,
                QuotaRecord: on_quota,
                FxRateRecord: on_fx_rate,
                DealSnapshot: on_deal,
                ActivityRecord: on_activity,
            },
            finisher=finisher,
        )
    ]
