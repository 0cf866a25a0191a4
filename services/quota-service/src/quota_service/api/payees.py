"""Payees: `PUT /payees/{id}`, `GET /payees`, `GET /payees/{id}`."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from sqlalchemy.dialects.postgresql import insert

from provisio_common.audit import record_audit
from provisio_common.events import PayeeRecord, envelope
from provisio_common.outbox import add_to_outbox
from provisio_common.problems import Problem, invalid
from provisio_common.topics import PAYEES
from quota_service.adapters.tables import audit, outbox, payees
from quota_service.api.deps import Admin, Reader, Session
from quota_service.domain.payees import PAYEE_ID, PayeeIn, manager_cycle

router = APIRouter(tags=["payees"])


@router.put("/payees/{payee_id}", status_code=200)
async def put_payee(
    payee_id: str, body: PayeeIn, session: Session, principal: Admin, response: Response
) -> dict[str, Any]:
    """Create or replace a payee; publishes the whole payee on `payees.v1`."""
    if not PAYEE_ID.match(payee_id):
        raise invalid([{"field": "payee_id", "message": "letters, digits, . _ - only"}])
    # Lock the hierarchy while it changes so two requests cannot build a loop together.
    await session.execute(sa.text("LOCK TABLE payees IN SHARE ROW EXCLUSIVE MODE"))
    rows = (await session.execute(sa.select(payees.c.id, payees.c.manager, payees.c.crm_ids))).all()
    managers = {r.id: r.manager for r in rows}
    if body.manager is not None:
        if body.manager not in managers:
            raise invalid([{"field": "manager", "message": f"no payee {body.manager!r}"}])
        if manager_cycle(payee_id, body.manager, managers):
            raise invalid([{"field": "manager", "message": "would make a management loop"}])
    for r in rows:
        taken = set(r.crm_ids) & set(body.crm_ids)
        if r.id != payee_id and taken:
            raise Problem(
                409,
                f"crm_ids {sorted(taken)} already belong to payee {r.id!r}",
                errors=[{"field": "crm_ids", "message": "already mapped to another payee"}],
            )
    record = PayeeRecord(id=payee_id, **body.model_dump())
    document = record.to_data()
    before = (await session.execute(sa.select(payees.c.document).where(payees.c.id == payee_id))).scalar()
    response.status_code = 201 if before is None else 200
    if before == document:
        return document
    await session.execute(
        insert(payees)
        .values(id=payee_id, document=document, manager=body.manager, crm_ids=body.crm_ids)
        .on_conflict_do_update(
            index_elements=[payees.c.id],
            set_={
                "document": document,
                "manager": body.manager,
                "crm_ids": body.crm_ids,
                "updated_at": sa.func.now(),
            },
        )
    )
    await add_to_outbox(
        session, outbox, PAYEES.name, payee_id, envelope("payee", "quota-service", payee_id, record)
    )
    await record_audit(session, audit, principal, "payee.put", f"payee:{payee_id}", before, document)
    return document


@router.get("/payees")
async def list_payees(session: Session, principal: Reader) -> list[dict[str, Any]]:
    rows = (await session.execute(sa.select(payees.c.document).order_by(payees.c.id))).scalars()
    return list(rows)


@router.get("/payees/{payee_id}")
async def get_payee(payee_id: str, session: Session, principal: Reader) -> dict[str, Any]:
    document = (await session.execute(sa.select(payees.c.document).where(payees.c.id == payee_id))).scalar()
    if document is None:
        raise Problem(404, f"no payee {payee_id!r}")
    return dict(document)
