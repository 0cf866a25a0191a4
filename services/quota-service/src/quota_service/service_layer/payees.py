"""Payees and the manager hierarchy."""

from __future__ import annotations

from typing import Any

from provisio_common.auth import Principal, ensure_may_see
from provisio_common.events import PayeeRecord
from provisio_common.problems import Problem, invalid
from quota_service.domain.payees import PAYEE_ID, PayeeIn, crm_ids_taken, manager_problem
from quota_service.service_layer.access import may_see_payee
from quota_service.service_layer.changes import Put, QuotaUoW, upsert_publish_audit


async def put_payee(
    uow: QuotaUoW, principal: Principal, payee_id: str, payee: PayeeIn
) -> Put[dict[str, Any]]:
    """Create or replace a payee and publish the whole payee on `payees.v1`. The manager
    must exist and may not close a loop (422 `manager`); a CRM id belongs to one payee
    only (409 `crm_ids`)."""
    if not PAYEE_ID.match(payee_id):
        raise invalid([{"field": "payee_id", "message": "letters, digits, . _ - only"}])
    async with uow:
        # The hierarchy stays locked while it changes, so two requests cannot build a loop together.
        await uow.repos.payees.lock_hierarchy()
        links = await uow.repos.payees.links()
        problem = manager_problem(payee_id, payee.manager, {link.id: link.manager for link in links})
        if problem is not None:
            raise invalid([{"field": "manager", "message": problem}])
        taken = crm_ids_taken(payee_id, payee.crm_ids, links)
        if taken is not None:
            owner, crm_ids = taken
            raise Problem(
                409,
                f"crm_ids {crm_ids} already belong to payee {owner!r}",
                errors=[{"field": "crm_ids", "message": "already mapped to another payee"}],
            )
        record = PayeeRecord(id=payee_id, **payee.model_dump())
        document = record.to_data()
        before = await uow.repos.payees.document(payee_id)

        async def upsert() -> PayeeRecord:
            await uow.repos.payees.put(payee_id, document, payee.manager, payee.crm_ids)
            return record

        await upsert_publish_audit(
            uow,
            principal,
            before=before,
            after=document,
            upsert=upsert,
            action="payee.put",
            entity=f"payee:{payee_id}",
        )
        await uow.commit()
    return Put(document, created=before is None)


async def get_payee(uow: QuotaUoW, principal: Principal, payee_id: str) -> dict[str, Any]:
    """A payee's document if the principal may see them (403: a rep themselves, a manager
    their subtree); 404 if unknown."""
    async with uow:
        ensure_may_see(principal, payee_id, await uow.repos.payees.managers())
        document = await uow.repos.payees.document(payee_id)
    if document is None:
        raise Problem(404, f"no payee {payee_id!r}")
    return document


async def list_payees(uow: QuotaUoW, principal: Principal) -> list[dict[str, Any]]:
    """The payees the principal may see, by id."""
    async with uow:
        managers = await uow.repos.payees.managers()
        documents = await uow.repos.payees.documents()
    return [d for d in documents if may_see_payee(principal, d["id"], managers)]
