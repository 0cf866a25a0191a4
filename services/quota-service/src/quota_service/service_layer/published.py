"""What quota-service has published to calc-engine (plans, payees, quotas, fx rates), as
a summary `POST /recompute` compares with calc-engine's replica, and publishing chosen keys
again to heal a replica that lost an event."""

from __future__ import annotations

from provisio_common.auth import Principal
from provisio_common.events import FxRateRecord, PayeeRecord, PlanVersion, QuotaRecord
from provisio_common.inputs import (
    ReferenceSummary,
    Republished,
    RepublishRequest,
    fx_key,
    payee_digest,
    quota_key,
    split_fx_key,
    split_quota_key,
)
from provisio_common.money import plain_decimal
from provisio_common.problems import invalid
from quota_service.service_layer.changes import QuotaUoW


async def summary(uow: QuotaUoW) -> ReferenceSummary:
    """Every plan's versions, a digest per payee, every quota and fx rate."""
    async with uow:
        repos = uow.repos
        plans = {p.plan_id: list(range(1, p.version + 1)) for p in await repos.plans.latest_of_each()}
        payees = {doc["id"]: payee_digest(doc) for doc in await repos.payees.documents()}
        quotas = {quota_key(q.payee, q.period): plain_decimal(q.amount) for q in await repos.quotas.find()}
        held_rates = await repos.fx_rates.all_rates()
        rates = {fx_key(r.day, r.source, r.target): plain_decimal(r.rate) for r in held_rates}
    return ReferenceSummary(plans=plans, payees=payees, quotas=quotas, fx_rates=rates)


def _keys_problem(request: RepublishRequest) -> list[dict[str, str]]:
    errors = []
    for key in request.quotas:
        try:
            split_quota_key(key)
        except ValueError:
            errors.append({"field": "quotas", "message": f"{key[:100]!r} is not payee:period"})
    for key in request.fx_rates:
        try:
            split_fx_key(key)
        except ValueError:
            errors.append({"field": "fx_rates", "message": f"{key[:100]!r} is not YYYY-MM-DD:FROM:TO"})
    return errors


async def republish(uow: QuotaUoW, principal: Principal, request: RepublishRequest) -> Republished:
    """Publish again, through the outbox, the current state of the keys asked for: every
    version of a plan, a payee's record, a quota or fx rate (one no longer held as deleted:
    the replica drops it). Consumers apply a state they already hold as a no-op. Audited."""
    if errors := _keys_problem(request):
        raise invalid(errors)
    done = Republished()
    async with uow:
        repos = uow.repos
        for plan_id in sorted(set(request.plans)):
            latest = await repos.plans.latest(plan_id)
            for number in range(1, (latest.version if latest else 0) + 1):
                stored = await repos.plans.version(plan_id, number)
                if stored is not None:
                    await uow.publish(
                        PlanVersion(
                            plan_id=plan_id,
                            version=stored.version,
                            document=stored.document,
                            created_at=stored.created_at,
                        )
                    )
                    done.plans += 1
        for payee_id in sorted(set(request.payees)):
            document = await repos.payees.document(payee_id)
            if document is not None:  # payees are never deleted
                await uow.publish(PayeeRecord.model_validate(document))
                done.payees += 1
        for key in sorted(set(request.quotas)):
            payee, period = split_quota_key(key)
            quota = await repos.quotas.get(payee, period)
            await uow.publish(QuotaRecord(payee=payee, period=period, amount=quota.amount if quota else None))
            done.quotas += 1
        for key in sorted(set(request.fx_rates)):
            day, source, target = split_fx_key(key)
            held = await repos.fx_rates.get(day, source, target)
            rate = held.rate if held else None
            await uow.publish(FxRateRecord(day=day, from_currency=source, to_currency=target, rate=rate))
            done.fx_rates += 1
        await uow.audit(principal, "inputs.republish", "inputs", None, done.model_dump())
        await uow.commit()
    return done
