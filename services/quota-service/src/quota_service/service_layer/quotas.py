"""Quotas: one amount per payee and period, in the plan currency."""

from __future__ import annotations

from decimal import Decimal

from provisio_common.auth import Principal, ensure_may_see
from provisio_common.events import QuotaRecord
from provisio_common.problems import Problem, invalid
from quota_service.domain.quotas import Quota, quota_problems
from quota_service.service_layer.access import may_see_payee
from quota_service.service_layer.changes import Put, QuotaUoW, upsert_publish_audit


async def put_quota(
    uow: QuotaUoW, principal: Principal, payee: str, period: str, amount: Decimal
) -> Put[Quota]:
    """Set a payee's quota for a period ("2027", "2027-H1", "2027-Q1" or "2027-01") and
    publish it on `quotas.v1`; the payee must exist (422 `payee`)."""
    errors = quota_problems(period, amount)
    if errors:
        raise invalid(errors)
    async with uow:
        if not await uow.repos.payees.exists(payee):
            raise invalid([{"field": "payee", "message": f"no payee {payee!r}"}])
        held = await uow.repos.quotas.get(payee, period, for_update=True)
        quota = Quota(payee, period, amount)

        async def upsert() -> QuotaRecord:
            await uow.repos.quotas.put(quota)
            return QuotaRecord(payee=payee, period=period, amount=amount)

        changed = await upsert_publish_audit(
            uow,
            principal,
            before=None if held is None else held.amount,
            after=amount,
            upsert=upsert,
            action="quota.put",
            entity=f"quota:{payee}:{period}",
            audited=str,
        )
        await uow.commit()
    return Put(held if held is not None and not changed else quota, created=held is None)


async def get_quota(uow: QuotaUoW, principal: Principal, payee: str, period: str) -> Quota:
    """One quota, if the principal may see the payee (403); 404 if there is none."""
    async with uow:
        ensure_may_see(principal, payee, await uow.repos.payees.managers())
        quota = await uow.repos.quotas.get(payee, period)
    if quota is None:
        raise Problem(404, f"no quota for {payee!r} in {period!r}")
    return quota


async def list_quotas(uow: QuotaUoW, principal: Principal, payee: str | None = None) -> list[Quota]:
    """The quotas the principal may see (of one payee, or all), by payee and period."""
    async with uow:
        managers = await uow.repos.payees.managers()
        found = await uow.repos.quotas.find(payee)
    return [q for q in found if may_see_payee(principal, q.payee, managers)]
