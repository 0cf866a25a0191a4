"""FX rates: 1 `from` = `rate` `to` from `day` on.

calc-engine converts a deal at the latest rate on or before its close day (PLANS.md
rule 16); a deal without one is parked as `missing_fx` until the rate arrives here.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from provisio_common.auth import Principal
from provisio_common.events import FxRateRecord
from provisio_common.problems import invalid
from quota_service.domain.fx import FxRate, fx_rate_problems
from quota_service.service_layer.changes import Put, QuotaUoW, upsert_publish_audit


async def put_fx_rate(
    uow: QuotaUoW, principal: Principal, day: date, source: str, target: str, rate: Decimal
) -> Put[FxRate]:
    """Set the rate from `day` on and publish it on `fxrates.v1`."""
    errors = fx_rate_problems(source, target, rate)
    if errors:
        raise invalid(errors)
    fx_rate = FxRate(day, source, target, rate)
    async with uow:
        held = await uow.repos.fx_rates.get(day, source, target, for_update=True)

        async def upsert() -> FxRateRecord:
            await uow.repos.fx_rates.put(fx_rate)
            return FxRateRecord(day=day, from_currency=source, to_currency=target, rate=rate)

        changed = await upsert_publish_audit(
            uow,
            principal,
            before=None if held is None else held.rate,
            after=rate,
            upsert=upsert,
            action="fx.put",
            entity=f"fx:{fx_rate.key}",
            audited=str,
        )
        await uow.commit()
    return Put(held if held is not None and not changed else fx_rate, created=held is None)


async def list_fx_rates(uow: QuotaUoW) -> list[FxRate]:
    """Every rate, by day and source currency."""
    async with uow:
        return await uow.repos.fx_rates.all_rates()
