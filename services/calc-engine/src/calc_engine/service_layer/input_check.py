"""Reconcile across services: compare calc-engine's inputs with what deal-ingest and
quota-service published, report the differences (a metric) and ask the producers to
publish those keys again; the events then flow as any other, so the heal is exactly-once
like everything else (DESIGN.md §4)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field

import httpx

from calc_engine.adapters.metrics import show_input_differences
from calc_engine.adapters.peers import Peers, PeerUnavailable
from calc_engine.domain.input_check import InputDifferences, differences
from calc_engine.service_layer import CalcUoW
from provisio_common.inputs import ReferenceSummary, RepublishRequest, fx_key, payee_digest, quota_key
from provisio_common.money import plain_decimal

log = logging.getLogger(__name__)
HEAL_POLL_S = 0.2  # between two looks at the replica while the asked-for events arrive


@dataclass(frozen=True)
class InputCheck:
    """What the check found: `checked` False (with `reason`) when a producer could not be
    asked; `differences` per kind; `asked_again` when the producers were asked to publish;
    `healed` once calc-engine held everything asked for (False: not within the time given)."""

    checked: bool
    reason: str | None = None
    differences: dict[str, int] = field(default_factory=dict)
    asked_again: bool = False
    healed: bool = True


async def held_inputs(
    uow: CalcUoW, deals_only: Collection[str] | None = None
) -> tuple[dict[str, list[int]], ReferenceSummary]:
    """calc-engine's replica, shaped as its producers describe theirs (the revisions of
    `deals_only` alone when given)."""
    async with uow:
        repos = uow.repos
        deals = await repos.deals.revision_numbers(deals_only)
        plans = {
            plan: [p.version for p in await repos.plans.versions(plan)] for plan in await repos.plans.ids()
        }
        payees = {payee: payee_digest(doc) for payee, doc in (await repos.payees.documents()).items()}
        quotas = {quota_key(q.payee, q.period): plain_decimal(q.amount) for q in await repos.quotas.all()}
        rates = {
            fx_key(r.day, r.from_currency, r.to_currency): plain_decimal(r.rate)
            for r in await repos.fx_rates.all()
        }
    return deals, ReferenceSummary(plans=plans, payees=payees, quotas=quotas, fx_rates=rates)


async def check_inputs(uow: CalcUoW, peers: Peers | None, heal_timeout_s: float = 30.0) -> InputCheck:
    """Compare, report, ask for what is missing and wait (by condition, up to
    `heal_timeout_s`) until calc-engine holds it. Never raises for a producer that cannot be
    asked: the recompute goes on with what calc-engine holds, and says so."""
    if peers is None:
        reason = "PROVISIO_DEAL_INGEST_URL and PROVISIO_QUOTA_SERVICE_URL are not set"
        return InputCheck(checked=False, reason=reason)
    try:
        async with httpx.AsyncClient(timeout=peers.timeout_s) as client:
            published = [deal async for deal in peers.published_revisions(client)]
            reference = await peers.reference(client)
            held_deals, held_reference = await held_inputs(uow)
            found = differences(published, held_deals, reference, held_reference)
            show_input_differences(found.counts())
            if found.total:
                await _ask_again(client, peers, found)
    except PeerUnavailable as exc:
        log.warning("inputs not checked: %s", exc)
        return InputCheck(checked=False, reason=str(exc))
    healed = True
    if found.total:
        # While waiting, only the deals asked for are read again (not every deal held).
        asked = set(found.deals)
        awaited = [(deal, revisions) for deal, revisions in published if deal in asked]
        deadline = time.monotonic() + heal_timeout_s
        while True:
            held_deals, held_reference = await held_inputs(uow, asked)
            left = differences(awaited, held_deals, reference, held_reference)
            healed = not left.total
            if healed or time.monotonic() >= deadline:
                break
            await asyncio.sleep(HEAL_POLL_S)
    return InputCheck(checked=True, differences=found.counts(), asked_again=bool(found.total), healed=healed)


async def _ask_again(client: httpx.AsyncClient, peers: Peers, found: InputDifferences) -> None:
    log.warning("inputs differ from what their producers published; asking again", extra=found.counts())
    if found.deals:
        await peers.replay_deals(client, found.deals)
    request = RepublishRequest(
        plans=found.plans, payees=found.payees, quotas=found.quotas, fx_rates=found.fx_rates
    )
    if request.plans or request.payees or request.quotas or request.fx_rates:
        await peers.republish(client, request)
