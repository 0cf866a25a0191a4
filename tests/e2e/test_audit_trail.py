"""Every state-changing route of every service writes exactly one audit row: the test walks
each service's OpenAPI, calls every non-GET route with its example (`audit_examples.py`)
over real HTTP, Postgres and the broker, and reads the row back through that service's
`GET /audit`: the caller's `sub` and role, an action, an entity, and the `X-Request-ID`
the request carried. A route without an example fails here, so a new one cannot forget."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from calc_engine.bootstrap import MIGRATIONS as CALC_MIGRATIONS
from calc_engine.bootstrap import build_app as calc_app
from calc_engine.settings import CalcSettings
from deal_ingest.bootstrap import MIGRATIONS as INGEST_MIGRATIONS
from deal_ingest.bootstrap import build_app as ingest_app
from deal_ingest.settings import IngestSettings
from payout_service.bootstrap import MIGRATIONS as PAYOUT_MIGRATIONS
from payout_service.bootstrap import build_app as payout_app
from payout_service.settings import PayoutSettings
from provisio_common.migrations import upgrade
from provisio_common.settings import ProvisioSettings, ServiceSettings
from provisio_common.testing.plugin import CreateDb, serve
from quota_service.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS
from quota_service.bootstrap import build_app as quota_app
from quota_service.settings import QuotaSettings

from .audit_examples import EXAMPLES, EXEMPT, READ_ONLY, Example, Route, Service

SERVICES: dict[str, tuple[type[ServiceSettings], Path, Callable[[Any], FastAPI]]] = {
    "deal-ingest": (IngestSettings, INGEST_MIGRATIONS, ingest_app),
    "calc-engine": (CalcSettings, CALC_MIGRATIONS, calc_app),
    "quota-service": (QuotaSettings, QUOTA_MIGRATIONS, quota_app),
    "payout-service": (PayoutSettings, PAYOUT_MIGRATIONS, payout_app),
}
WRITES = ("post", "put", "patch", "delete")


@contextlib.asynccontextmanager
async def running(name: str, fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Service]:
    settings_cls, migrations, build = SERVICES[name]
    database = await fresh_db(name.replace("-", "_"))
    settings = settings_cls(**{**base_settings.model_dump(), "database": database})
    await asyncio.to_thread(upgrade, migrations, settings.database_url)
    app = build(settings)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
        yield Service(name, app, settings, client)


def write_routes(app: FastAPI) -> set[Route]:
    """Every (METHOD, path template) of the app's OpenAPI that is not a GET."""
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops if method in WRITES}


async def newest_id(svc: Service) -> int:
    r = await svc.client.get("/audit", params={"limit": 1}, headers=svc.auth("ops", "auditor"))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    return int(items[0]["id"]) if items else 0


async def rows_since(svc: Service, last_id: int) -> list[dict[str, Any]]:
    r = await svc.client.get("/audit", params={"limit": 50}, headers=svc.auth("admin", "auditor"))
    assert r.status_code == 200, r.text
    return [row for row in r.json()["items"] if row["id"] > last_id]


async def send(svc: Service, example: Example, request_id: str) -> httpx.Response:
    headers = {**svc.auth(example.role, example.sub), **example.headers, "X-Request-ID": request_id}
    return await svc.client.request(
        example.method, example.path, headers=headers, json=example.json, content=example.content
    )


async def audit_problems(svc: Service, route: Route, example: Example, *, audited: bool) -> list[str]:
    """What is wrong with the audit rows `example` wrote (nothing: [])."""
    request_id = f"audit-walk-{route[0]}-{route[1]}"
    before = await newest_id(svc)
    response = await send(svc, example, request_id)
    if not response.is_success:
        return [f"the example answered {response.status_code}: {response.text[:300]}"]
    rows = await rows_since(svc, before)
    if not audited:
        return [] if rows == [] else [f"a read-only route wrote audit rows: {rows}"]
    if len(rows) != 1:
        return [f"wrote {len(rows)} audit rows, not exactly one: {rows}"]
    [row] = rows
    wanted = {"actor": example.sub, "role": example.role, "request_id": request_id}
    problems = [f"{key} is {row[key]!r}, not {value!r}" for key, value in wanted.items() if row[key] != value]
    problems += [f"{key} is empty" for key in ("action", "entity") if not row[key]]
    return problems


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_every_non_get_route_writes_exactly_one_audit_row(
    name: str, fresh_db: CreateDb, base_settings: ProvisioSettings
) -> None:
    async with running(name, fresh_db, base_settings) as svc:
        routes = write_routes(svc.app)
        audited, read_only = EXAMPLES.get(name, {}), READ_ONLY.get(name, {})
        exempt = EXEMPT.get(name, {})
        missing = sorted(routes - set(audited) - set(read_only) - set(exempt))
        assert not missing, (
            f"{name}: no example for {missing}; add one to tests/e2e/audit_examples.py "
            "(EXAMPLES: a request that changes state and must write one audit row)"
        )
        stale = sorted((set(audited) | set(read_only) | set(exempt)) - routes)
        assert not stale, f"{name}: examples for routes it does not have: {stale}; remove them"
        assert all(reason.strip() for reason in exempt.values())

        failures: list[str] = []
        for route, builder in sorted([*audited.items(), *read_only.items()]):
            example = await builder(svc)
            assert example.method == route[0], (route, example)
            for problem in await audit_problems(svc, route, example, audited=route in audited):
                failures.append(f"{route[0]} {route[1]} ({example.path}): {problem}")
        assert not failures, f"{name}:\n" + "\n".join(failures)
