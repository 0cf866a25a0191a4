"""calc-engine's handlers, one per topic. Each runs in the inbox transaction."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from provisio_calc import BadSplit, Deal, InputInvalid, PlanInvalid, direct_credits, load_plan
from provisio_common.events import (
    CreditRecord,
    DealSnapshot,
    Envelope,
    PayeeRecord,
    PlanVersion,
    QuotaRecord,
    envelope,
)
from provisio_common.inbox import PoisonMessage
from provisio_common.outbox import add_to_outbox
from provisio_common.topics import CREDITS
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from calc_engine.adapters.tables import deal_revisions, deals, outbox, payees, plans, quotas
from calc_engine.domain.people import crm_index
from calc_engine.service_layer.inputs import to_deal
from calc_engine.service_layer.reconcile import reconcile_all, reconcile_plan


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
        .values(deal=snapshot.key, revision=snapshot.revision, document=document)
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
    await publish_credits(session, snapshot, deal, previous)
    await reconcile_all(session, cause_event=env.id)


def _credits_of(deal: Deal | None) -> list[tuple[str, Decimal]]:
    if deal is None:
        return []
    try:
        return direct_credits(deal)
    except BadSplit:
        return []


async def publish_credits(
    session: AsyncSession, snapshot: DealSnapshot, deal: Deal, previous: Deal | None
) -> None:
    """`credits.v1`: the deal's direct credit per payee at this revision.

    A payee credited by the previous revision but not by this one gets a zero credit, so
    readers never keep a stale one. A bad split credits no one.
    """
    current = dict(_credits_of(deal))
    for payee in [p for p, _ in _credits_of(previous) if p not in current]:
        current[payee] = Decimal(0)
    for payee, share in current.items():
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
    await reconcile_plan(session, version.plan_id, cause_event=env.id)


async def on_payee(session: AsyncSession, env: Envelope) -> None:
    try:
        record = PayeeRecord.model_validate(env.data)
    except ValidationError as exc:
        raise PoisonMessage(f"not a payees.v1 record: {exc}") from exc
    document = record.to_data()
    await session.execute(
        insert(payees)
        .values(id=record.id, document=document)
        .on_conflict_do_update(index_elements=[payees.c.id], set_={"document": document})
    )
    await reconcile_all(session, cause_event=env.id)


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
    await reconcile_all(session, cause_event=env.id)
