"""Plans: versioned, effective-dated documents (YAML or JSON), validated by libs/calc."""

from __future__ import annotations

from provisio_calc import PlanInvalid, load_plan
from provisio_common.auth import Principal
from provisio_common.events import PlanVersion
from provisio_common.problems import Problem, invalid
from quota_service.domain.plans import StoredPlanVersion, next_version
from quota_service.service_layer.changes import Put, QuotaUoW, upsert_publish_audit


async def put_plan(uow: QuotaUoW, principal: Principal, plan_id: str, text: str) -> Put[StoredPlanVersion]:
    """Store a new version of a plan (created), or keep the current one if the document is
    unchanged. The whole document is validated first; a bad plan is refused with every
    problem, each naming its path (`components[2].tiers.bands[1].to`)."""
    try:
        plan = load_plan(text, filename=f"{plan_id}")
    except PlanInvalid as exc:
        raise invalid(
            [{"field": p.path, "message": p.message} for p in exc.problems], detail="the plan is not valid"
        ) from exc
    if plan.id != plan_id:
        raise invalid([{"field": "id", "message": f"must equal the plan id in the URL ({plan_id!r})"}])
    document = plan.document()
    async with uow:
        await uow.repos.plans.lock(plan_id)
        latest = await uow.repos.plans.latest(plan_id)
        stored = latest

        async def add_version() -> PlanVersion:
            nonlocal stored
            stored = await uow.repos.plans.add(plan_id, next_version(latest), document, text, principal.sub)
            return PlanVersion(
                plan_id=plan_id, version=stored.version, document=document, created_at=stored.created_at
            )

        created = await upsert_publish_audit(
            uow,
            principal,
            before=None if latest is None else latest.document,
            after=document,
            upsert=add_version,
            action="plan.put",
            entity=f"plan:{plan_id}",
        )
        await uow.commit()
    assert stored is not None
    return Put(stored, created)


async def get_plan(uow: QuotaUoW, plan_id: str, version: int | None = None) -> StoredPlanVersion:
    """The latest version of a plan, or the given one; 404 if there is none."""
    async with uow:
        found = (
            await uow.repos.plans.latest(plan_id)
            if version is None
            else await uow.repos.plans.version(plan_id, version)
        )
    if found is None:
        raise Problem(404, f"no plan {plan_id!r}" + (f" version {version}" if version else ""))
    return found


async def list_plans(uow: QuotaUoW) -> list[StoredPlanVersion]:
    """Every plan at its latest version."""
    async with uow:
        return await uow.repos.plans.latest_of_each()
