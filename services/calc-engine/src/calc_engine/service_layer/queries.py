"""What calc-engine shows: its ledger, its current exceptions, the deal revisions it holds."""

from __future__ import annotations

from calc_engine.domain.ledger import LedgerEntry
from calc_engine.domain.model import HeldDeal, PlanException
from calc_engine.service_layer import CalcUoW


async def ledger_entries(
    uow: CalcUoW, *, payee: str | None = None, deal: str | None = None, limit: int = 500
) -> list[LedgerEntry]:
    """Entries, oldest first; an empty `payee` or `deal` filters nothing."""
    async with uow:
        return await uow.repos.ledger.entries(payee=payee or None, deal=deal or None, limit=limit)


async def current_exceptions(uow: CalcUoW) -> list[PlanException]:
    """Every input a plan's last run could not use, oldest first."""
    async with uow:
        return await uow.repos.exceptions.all()


async def held_deals(uow: CalcUoW) -> list[HeldDeal]:
    """Every deal with the revision and status calc-engine applied, by deal."""
    async with uow:
        return await uow.repos.deals.held()
