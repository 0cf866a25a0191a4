"""calc-engine's handlers, one per topic. Each runs in the inbox transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from calc_engine.adapters.tables import (
    activities,
    deal_revisions,
    deals,
    fx_rates,
    outbox,
    payees,
    plans,
    quotas,
)
from calc_engine.domain.people import crm_index
from calc_engine.service_layer.inputs import close_day_of, to_activity, to_deal
from calc_engine.service_layer.reconcile import reconcile_all
from provisio_calc import BadSplit, Deal, InputInvalid, PlanInvalid, direct_credits, load_plan
from provisio_common.events import (
    ActivityRecord,
    CreditRecord,
    DealSnapshot,
    Envelope,
    FxRateRecord,
    PayeeRecord,
    PlanVersion,
    QuotaRecord,
    envelope,
)
from provisio_common.inbox import PoisonMessage
from provisio_common.outbox import add_to_outbox
from provisio_common.topics import CREDITS


@dataclass
class Pending:
    """What the events of one transaction changed, so the ledger is reconciled once."""

    days: set[str] = field(default_factory=set)
    everything: bool = False


def pending(session: AsyncSession) -> Pending:
    work = session.info.setdefault("calc_pending", Pending())
    assert isinstance(work, Pending)
    return work


async def reconcile_pending(session: AsyncSession, applied: list[Envelope]) -> None:
    """The finisher: one reconciliation for every event the transaction applied.

    Entries are attributed to the last of those events (`cause_event`) and name their
    deal (`deal`).
    """
    work = session.info.pop("calc_pending", None)
    if not isinstance(work, Pending) or not (work.everything or work.days):
        return
    days = () if work.everything else sorted(work.days)
    await reconcile_all(session, cause_event=applied[-1].id, days=days)


async def on_deal(session: AsyncSession, env: Envelope) -> None:
    """Hold the new revision (older or equal revisions are dropped), credit, reconcile."""
    try:
        snapshot = DealSnapshot.model_validate(env.data)
    except ValidationError as exc:
        raise PoisonMessage(f"not a deals.v1 snapshot: {exc}") from exc
    document = snapshot.to_data()
    payee_documents = [dict(d) for d in (await session.execute(sa.select(payees.c.document))).scalars()]
    index = crm_index(payee_documents)
    try:
        deal = to_deal(document, index)
    except InputInvalid as exc:
        raise PoisonMessage(f"deal {snapshot.key}: {exc}") from exc
    held = (
        await session.execute(
            sa.select(deals.c.revision).where(deals.c.deal == snapshot.key).with_for_update()
        )
    ).scalar()
    if held is not None and snapshot.revision <= held:
        return
    await session.execute(
        insert(deals)
        .values(deal=snapshot.key, revision=snapshot.revision, status=snapshot.status)
        .on_conflict_do_update(
            index_elements=[deals.c.deal],
            set_={"revision": snapshot.revision, "status": snapshot.status},
        )
    )
    await session.execute(
        insert(deal_revisions)
        .values(
            deal=snapshot.key,
            revision=snapshot.revision,
            document=document,
            close_day=close_day_of(document),
        )
        .on_conflict_do_nothing()
    )
    previous = None
    if held is not None:
        held_document = (
            await session.execute(
                sa.select(deal_revisions.c.document).where(
                    deal_revisions.c.deal == snapshot.key, deal_revisions.c.revision == held
                )
            )
        ).scalar()
        previous = to_deal(dict(held_document), index) if held_document is not None else None
    await publish_credits(session, snapshot, credits_of(deal), credits_of(previous))
    # Only the periods of this deal's close dates (every revision's) can change.
    close_dates = (
        await session.execute(
            sa.select(deal_revisions.c.document["close_date"].astext)
            .where(deal_revisions.c.deal == snapshot.key)
            .distinct()
        )
    ).scalars()
    days = [d for d in close_dates if d]
    if days:
        pending(session).days.update(days)
    else:
        pending(session).everything = True


def credits_of(deal: Deal | None) -> dict[str, Decimal]:
    """The deal's direct credit per payee; none for no deal or a bad split."""
    if deal is None:
        return {}
    try:
        return dict(direct_credits(deal))
    except BadSplit:
        return {}


async def publish_credits(
    session: AsyncSession,
    snapshot: DealSnapshot,
    current: dict[str, Decimal],
    previous: dict[str, Decimal],
) -> None:
    """`credits.v1`: the deal's direct credit per payee at this revision.

    A payee credited before (the previous revision, or the same one before a CRM
    reference was resolved) but not now gets a zero credit, so readers never keep a
    stale one.
    """
    shares = {**{payee: Decimal(0) for payee in previous}, **current}
    for payee, share in shares.items():
        record = CreditRecord(
            deal=snapshot.key,
            revision=snapshot.revision,
            payee=payee,
            share=share,
            amount=snapshot.amount * share,
            currency=snapshot.currency,
            status=snapshot.status,
            close_date=snapshot.close_date,
            type=snapshot.type,
        )
        await add_to_outbox(
            session, outbox, CREDITS.name, payee, envelope("credit", "calc-engine", payee, record)
        )


async def held_snapshots(session: AsyncSession) -> list[dict[str, Any]]:
    """The latest held revision of every deal."""
    rows = await session.execute(
        sa.select(deal_revisions.c.document).join(
            deals,
            (deals.c.deal == deal_revisions.c.deal) & (deals.c.revision == deal_revisions.c.revision),
        )
    )
    return [dict(d) for d in rows.scalars()]


async def on_activity(session: AsyncSession, env: Envelope) -> None:
    """Hold the activity (repeats of one activity are ignored) and reconcile."""
    try:
        record = ActivityRecord.model_validate(env.data)
    except ValidationError as exc:
        raise PoisonMessage(f"not an activities.v1 record: {exc}") from exc
    document = record.to_data()
    try:
        to_activity(document, {})
    except InputInvalid as exc:
        raise PoisonMessage(f"activity {record.source}:{record.external_id}: {exc}") from exc
    inserted = (
        await session.execute(
            insert(activities)
            .values(activity=f"{record.source}:{record.external_id}", document=document)
            .on_conflict_do_nothing()
            .returning(activities.c.activity)
        )
    ).first()
    if inserted is not None:
        pending(session).everything = True


async def on_plan(session: AsyncSession, env: Envelope) -> None:
    try:
        version = PlanVersion.model_validate(env.data)
        load_plan(version.document)
    except (ValidationError, PlanInvalid) as exc:
        raise PoisonMessage(f"not a valid plans.v1 version: {exc}") from exc
    await session.execute(
        insert(plans)
        .values(plan_id=version.plan_id, version=version.version, document=version.document)
        .on_conflict_do_nothing()
    )
    pending(session).everything = True


async def on_payee(session: AsyncSession, env: Envelope) -> None:
    """Replicate the payee; re-credit deals whose CRM references now resolve differently."""
    try:
        record = PayeeRecord.model_validate(env.data)
    except ValidationError as exc:
        raise PoisonMessage(f"not a payees.v1 record: {exc}") from exc
    document = record.to_data()
    before = crm_index([dict(d) for d in (await session.execute(sa.select(payees.c.document))).scalars()])
    await session.execute(
        insert(payees)
        .values(id=record.id, document=document)
        .on_conflict_do_update(index_elements=[payees.c.id], set_={"document": document})
    )
    after = crm_index([dict(d) for d in (await session.execute(sa.select(payees.c.document))).scalars()])
    changed = {ref for ref in set(before) | set(after) if before.get(ref) != after.get(ref)}
    if changed:
        for held in await held_snapshots(session):
            people = {held["owner"], *(split["payee"] for split in held.get("splits", []))}
            if people & changed:
                old, new = credits_of(to_deal(held, before)), credits_of(to_deal(held, after))
                if old != new:
                    snapshot = DealSnapshot.model_validate(held)
                    await publish_credits(session, snapshot, new, old)
    pending(session).everything = True


async def on_fx_rate(session: AsyncSession, env: Envelope) -> None:
    """Replicate a rate; parked `missing_fx` deals earn once their rate is here."""
    try:
        record = FxRateRecord.model_validate(env.data)
    except ValidationError as exc:
        raise PoisonMessage(f"not an fxrates.v1 record: {exc}") from exc
    key = (
        (fx_rates.c.day == record.day)
        & (fx_rates.c.from_currency == record.from_currency)
        & (fx_rates.c.to_currency == record.to_currency)
    )
    if record.rate is None:
        await session.execute(fx_rates.delete().where(key))
    else:
        values = {"day": record.day, "from_currency": record.from_currency, "to_currency": record.to_currency}
        await session.execute(
            insert(fx_rates)
            .values(**values, rate=record.rate)
            .on_conflict_do_update(
                index_elements=[fx_rates.c.day, fx_rates.c.from_currency, fx_rates.c.to_currency],
                set_={"rate": record.rate},
            )
        )
    pending(session).everything = True


async def on_quota(session: AsyncSession, env: Envelope) -> None:
    try:
        record = QuotaRecord.model_validate(env.data)
    except ValidationError as exc:
        raise PoisonMessage(f"not a quotas.v1 record: {exc}") from exc
    key = (quotas.c.payee == record.payee) & (quotas.c.period == record.period)
    if record.amount is None:
        await session.execute(quotas.delete().where(key))
    else:
        amount: Decimal = record.amount
        await session.execute(
            insert(quotas)
            .values(payee=record.payee, period=record.period, amount=amount)
            .on_conflict_do_update(index_elements=[quotas.c.payee, quotas.c.period], set_={"amount": amount})
        )
    pending(session).everything = True
