"""Plans: versioned, effective-dated documents (YAML or JSON), validated by libs/calc."""

from __future__ import annotations

from provisio_calc import PlanInvalid, load_plan
from provisio_calc.versions import succession_problems
from provisio_common.auth import Principal
from provisio_common.events import PlanVersion
from provisio_common.problems import Problem, invalid
from quota_service.domain.plans import PlanDiff, StoredPlanVersion, next_version, plan_diff
from quota_service.service_layer.access import visible_plan_ids
from quota_service.service_layer.changes import Put, QuotaUoW, upsert_publish_audit


async def put_plan(uow: QuotaUoW, principal: Principal, plan_id: str, text: str) -> Put[StoredPlanVersion]:
    """Store a new version of a plan (created), or keep the current one if the document is
    unchanged. The whole document is validated first; a bad plan is refused with every
    problem, each naming its path (`components[2].tiers.bands[1].to`), and so is a version
    that changes what all versions of a plan share (currency, timezone, pay_frequency)."""
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
        held = [] if latest is None else [load_plan(latest.source_text, filename=plan_id)]
        if problems := succession_problems(held, plan):
            raise invalid(
                [{"field": p.path, "message": p.message} for p in problems],
                detail="the plan is not a further version of the stored plan",
            )

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


async def _ensure_may_see_plan(uow: QuotaUoW, principal: Principal, plan_id: str) -> None:
    visible = visible_plan_ids(
        principal, await uow.repos.payees.documents(), await uow.repos.payees.managers()
    )
    if visible is not None and plan_id not in visible:
        raise Problem(403, f"{principal.role} {principal.sub!r} may not see plan {plan_id!r}")


async def get_plan(
    uow: QuotaUoW, principal: Principal, plan_id: str, version: int | None = None
) -> StoredPlanVersion:
    """The latest version of a plan, or the given one, if the principal may see it (403: a
    rep the plans they are assigned to, a manager those of their subtree); 404 if none."""
    async with uow:
        await _ensure_may_see_plan(uow, principal, plan_id)
        found = (
            await uow.repos.plans.latest(plan_id)
            if version is None
            else await uow.repos.plans.version(plan_id, version)
        )
    if found is None:
        raise Problem(404, f"no plan {plan_id!r}" + (f" version {version}" if version else ""))
    return found


async def list_plans(uow: QuotaUoW, principal: Principal) -> list[StoredPlanVersion]:
    """The plans the principal may see, each at its latest version."""
    async with uow:
        visible = visible_plan_ids(
            principal, await uow.repos.payees.documents(), await uow.repos.payees.managers()
        )
        plans = await uow.repos.plans.latest_of_each()
    return [p for p in plans if visible is None or p.plan_id in visible]


async def diff_plan(
    uow: QuotaUoW, principal: Principal, plan_id: str, from_version: int | None, to_version: int | None
) -> PlanDiff:
    """What changed from one version of a plan to another (default: the latest against the
    one before it); 404 if either is missing."""
    async with uow:
        await _ensure_may_see_plan(uow, principal, plan_id)
        latest = await uow.repos.plans.latest(plan_id)
        if latest is None:
            raise Problem(404, f"no plan {plan_id!r}")
        to_number = latest.version if to_version is None else to_version
        from_number = max(to_number - 1, 1) if from_version is None else from_version
        new = await uow.repos.plans.version(plan_id, to_number)
        old = await uow.repos.plans.version(plan_id, from_number)
    for number, found in ((from_number, old), (to_number, new)):
        if found is None:
            raise Problem(404, f"no plan {plan_id!r} version {number}")
    assert old is not None and new is not None
    return plan_diff(old, new)
