"""Plans: versioned, effective-dated documents (YAML or JSON), validated by libs/calc."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response

from provisio_calc import PlanInvalid, load_plan
from provisio_common.audit import record_audit
from provisio_common.events import PlanVersion, envelope
from provisio_common.outbox import add_to_outbox
from provisio_common.problems import Problem, invalid
from provisio_common.topics import PLANS
from quota_service.adapters.tables import audit, outbox, plan_versions
from quota_service.api.deps import Admin, Reader, Session

router = APIRouter(tags=["plans"])

PLAN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
MAX_PLAN_BYTES = 256 * 1024


def _version_view(row: Any) -> dict[str, Any]:
    return {
        "plan_id": row.plan_id,
        "version": row.version,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "document": row.document,
    }


@router.put("/plans/{plan_id}", openapi_extra=PLAN_BODY)
async def put_plan(
    plan_id: str, request: Request, session: Session, principal: Admin, response: Response
) -> dict[str, Any]:
    """Store a new version of a plan (201), or 200 with the current version if unchanged.

    The whole document is validated first; a bad plan is refused with every problem,
    each naming its path (`components[2].tiers.bands[1].to`).
    """
    raw = await request.body()
    if len(raw) > MAX_PLAN_BYTES:
        raise Problem(413, f"plan documents are limited to {MAX_PLAN_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise invalid([{"field": "body", "message": "not UTF-8 text"}]) from exc
    try:
        plan = load_plan(text, filename=f"{plan_id}")
    except PlanInvalid as exc:
        raise invalid(
            [{"field": p.path, "message": p.message} for p in exc.problems], detail="the plan is not valid"
        ) from exc
    if plan.id != plan_id:
        raise invalid([{"field": "id", "message": f"must equal the plan id in the URL ({plan_id!r})"}])
    document = plan.document()
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(plan_id))))
    latest = (
        await session.execute(
            sa.select(plan_versions)
            .where(plan_versions.c.plan_id == plan_id)
            .order_by(plan_versions.c.version.desc())
            .limit(1)
        )
    ).first()
    if latest is not None and latest.document == document:
        response.status_code = 200
        return _version_view(latest)
    version = 1 if latest is None else latest.version + 1
    row = (
        await session.execute(
            plan_versions.insert()
            .values(
                plan_id=plan_id,
                version=version,
                document=document,
                source_text=text,
                created_by=principal.sub,
            )
            .returning(*plan_versions.c)
        )
    ).one()
    payload = PlanVersion(plan_id=plan_id, version=version, document=document, created_at=row.created_at)
    await add_to_outbox(
        session, outbox, PLANS.name, plan_id, envelope("plan.version", "quota-service", plan_id, payload)
    )
    await record_audit(
        session,
        audit,
        principal,
        "plan.put",
        f"plan:{plan_id}",
        latest.document if latest else None,
        document,
    )
    response.status_code = 201
    return _version_view(row)


@router.get("/plans")
async def list_plans(session: Session, principal: Reader) -> list[dict[str, Any]]:
    """Every plan at its latest version."""
    latest = (
        sa.select(plan_versions)
        .distinct(plan_versions.c.plan_id)
        .order_by(plan_versions.c.plan_id, plan_versions.c.version.desc())
    )
    return [_version_view(r) for r in (await session.execute(latest)).all()]


@router.get("/plans/{plan_id}")
async def get_plan(
    plan_id: str, session: Session, principal: Reader, version: int | None = None
) -> dict[str, Any]:
    """The latest version of a plan, or `?version=N`."""
    query = sa.select(plan_versions).where(plan_versions.c.plan_id == plan_id)
    if version is not None:
        query = query.where(plan_versions.c.version == version)
    row = (await session.execute(query.order_by(plan_versions.c.version.desc()).limit(1))).first()
    if row is None:
        raise Problem(404, f"no plan {plan_id!r}" + (f" version {version}" if version else ""))
    return _version_view(row)
