"""Load the engine's inputs from calc-engine's replicas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from calc_engine.adapters.tables import activities, deal_revisions, fx_rates, payees, plans, quotas
from calc_engine.domain.people import crm_index, resolve_people
from provisio_calc import Activity, Deal, FxRate, Payee, Plan, Quota, load_plan


@dataclass(frozen=True)
class PlanRow:
    plan: Plan
    version: int


@dataclass(frozen=True)
class Inputs:
    payee_documents: dict[str, dict[str, Any]]
    payees: list[Payee]
    quotas: list[Quota]
    deals: list[Deal]
    activities: list[Activity]
    fx: list[FxRate]


async def latest_plan(session: AsyncSession, plan_id: str) -> PlanRow | None:
    row = (
        await session.execute(
            sa.select(plans.c.version, plans.c.document)
            .where(plans.c.plan_id == plan_id)
            .order_by(plans.c.version.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return PlanRow(load_plan(row.document), row.version)


async def plan_ids(session: AsyncSession) -> list[str]:
    return list((await session.execute(sa.select(plans.c.plan_id).distinct())).scalars())


def to_payee(document: dict[str, Any]) -> Payee:
    return Payee(
        id=document["id"],
        name=document.get("name", ""),
        manager=document.get("manager"),
        roles=tuple(document.get("roles") or ("rep",)),
        team=document.get("team"),
        territories=tuple(document.get("territories") or ()),
    )


def to_deal(document: dict[str, Any], index: dict[str, str]) -> Deal:
    return Deal.from_dict(resolve_people(document, index))


def to_activity(document: dict[str, Any], index: dict[str, str]) -> Activity:
    return Activity.from_dict({**document, "owner": index.get(document["owner"], document["owner"])})


def close_day_of(document: dict[str, Any]) -> date | None:
    """The calendar day of a snapshot's close_date as sent (the coarse index)."""
    value = document.get("close_date")
    return date.fromisoformat(str(value)[:10]) if value else None


async def load_inputs(session: AsyncSession, window: tuple[date, date] | None = None) -> Inputs:
    """Everything the engine needs; with `window`, only the deals (all their revisions)
    that have a revision closing inside it."""
    payee_documents = {r.id: dict(r.document) for r in (await session.execute(sa.select(payees))).all()}
    index = crm_index(payee_documents.values())
    quota_rows = (await session.execute(sa.select(quotas))).all()
    fx_rows = (await session.execute(sa.select(fx_rates))).all()
    query = sa.select(deal_revisions.c.document)
    if window is not None:
        in_window = (
            sa.select(deal_revisions.c.deal)
            .where(deal_revisions.c.close_day.between(window[0], window[1]))
            .distinct()
        )
        query = query.where(deal_revisions.c.deal.in_(in_window))
    revisions = (await session.execute(query)).scalars()
    activity_documents = (await session.execute(sa.select(activities.c.document))).scalars()
    return Inputs(
        payee_documents=payee_documents,
        payees=[to_payee(d) for d in payee_documents.values()],
        quotas=[Quota(payee=r.payee, period=r.period, amount=Decimal(r.amount)) for r in quota_rows],
        deals=[to_deal(d, index) for d in revisions],
        activities=[to_activity(d, index) for d in activity_documents],
        fx=[FxRate(r.day, r.from_currency, r.to_currency, Decimal(r.rate)) for r in fx_rows],
    )
