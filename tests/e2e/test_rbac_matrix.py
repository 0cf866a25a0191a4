"""The RBAC matrix (DESIGN.md §7): every operation of every service's OpenAPI declares who
may call it, once, with `provisio_common.access.allow(...)` (its `security` requirement:
`[{"bearer": ["admin", "ops", "manager:subtree", "rep:self"]}]`) or `PUBLIC`
(`security: []`). This test reads that declaration and calls every operation over real
HTTP, on real Postgres, as:

- nobody (no token): 401 (a public operation: 2xx);
- each of the five roles: admitted (a GET answers 2xx; a write anything but 401/403/5xx,
  and its example's own caller 2xx) iff the role is declared, else 403;
- for a declared `manager:subtree`, a manager outside the subtree, and for `rep:self`,
  another rep: 403, or a 2xx that shows nothing of the payee asked about (a list filtered).

It also holds the declaration to the rest of the house rules: the "Roles:" line of the
description names exactly the declared roles, `ops` never writes (read-only), `payroll`
writes only under `/payroll/`. Webhook doors are exempt (see `EXEMPT`).

The requests: every non-GET operation reuses the audit walk's examples
(`audit_examples.py`), which must succeed for the caller they name; GET operations are
built here from the data seeded once per service. The people: `mia` manages `ann` and
`ray`; `max` manages `rob`. Requests are about `ann`; `max` and `ray` are the outsiders.

Run with `-s` to see the figures: "RBAC cells checked / violations" per service and in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from calc_engine.bootstrap import MIGRATIONS as CALC_MIGRATIONS
from calc_engine.bootstrap import build_app as calc_app
from calc_engine.service_layer import handlers as calc_handlers
from calc_engine.settings import CalcSettings
from deal_ingest.bootstrap import MIGRATIONS as INGEST_MIGRATIONS
from deal_ingest.bootstrap import build_app as ingest_app
from deal_ingest.settings import IngestSettings
from payout_service.bootstrap import MIGRATIONS as PAYOUT_MIGRATIONS
from payout_service.bootstrap import build_app as payout_app
from payout_service.service_layer import handlers as payout_handlers
from payout_service.settings import PayoutSettings
from provisio_common.access import Scope, declared
from provisio_common.auth import BEARER_SCHEME, ROLES, Role
from provisio_common.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from provisio_common.events import PayeeRecord
from provisio_common.migrations import upgrade
from provisio_common.settings import ProvisioSettings, ServiceSettings
from provisio_common.testing.plugin import CreateDb, serve
from provisio_common.webhooks import new_secret, signed_headers
from quota_service.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS
from quota_service.bootstrap import build_app as quota_app
from quota_service.settings import QuotaSettings

from . import audit_examples as ex
from .audit_examples import Example, Route, Service

SERVICES: dict[str, tuple[type[ServiceSettings], Path, Callable[[Any], FastAPI]]] = {
    "deal-ingest": (IngestSettings, INGEST_MIGRATIONS, ingest_app),
    "calc-engine": (CalcSettings, CALC_MIGRATIONS, calc_app),
    "quota-service": (QuotaSettings, QUOTA_MIGRATIONS, quota_app),
    "payout-service": (PayoutSettings, PAYOUT_MIGRATIONS, payout_app),
}

# Who calls as each role (a manager and a rep in scope of TARGET), and the outsiders.
SUBS: dict[Role, str] = {"admin": "ada", "ops": "otto", "payroll": "pat", "manager": "mia", "rep": "ann"}
TARGET = "ann"
OUTSIDERS: dict[str, tuple[Role, str]] = {"subtree": ("manager", "max"), "self": ("rep", "ray")}
# What of TARGET's must not reach an outsider: her id, name, plan and team (`ann-plan`, `team:ann-team`).
LEAK = re.compile(rf"\b{TARGET}\b", re.IGNORECASE)
HIERARCHY = {"mia": None, "ann": "mia", "ray": "mia", "max": None, "rob": "max"}

EXEMPT_PREFIX = "/webhooks/"
EXEMPT_REASON = (
    "CRM doors take no bearer token: each is authenticated by its source's own scheme "
    "(signatures, HTTP basic auth per org) and tested by deal-ingest's webhook tests and fuzz."
)
# POSTs that change nothing (a body too rich for a query string): ops may call them.
READ_ONLY_WRITES = {route for routes in ex.READ_ONLY.values() for route in routes}
PERIOD, MONTH = "2027-Q1", "2027-01"


# ------------------------------------------------------------------ running the services


@pytest.fixture(scope="module")
def rbac_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One broker for the module (the plugin's `broker` is per test)."""
    server = EmbeddedBroker(port=free_port(), log_file=tmp_path_factory.mktemp("rbac") / "tansu.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def services(
    embedded_pg: EmbeddedPostgres, rbac_broker: EmbeddedBroker, module_db: CreateDb
) -> AsyncIterator[dict[str, Service]]:
    """The four services, each served once for the module and seeded once."""
    shared = ProvisioSettings(
        environment="test",
        pg_port=embedded_pg.port,
        kafka_bootstrap=rbac_broker.bootstrap,
        log_json=False,
    ).model_dump()
    secret = new_secret()
    running: dict[str, Service] = {}
    async with contextlib.AsyncExitStack() as exits:
        for name, (settings_cls, migrations, build) in SERVICES.items():
            extra: dict[str, Any] = {"generic_webhook_secrets": [secret]} if name == "deal-ingest" else {}
            settings = settings_cls(
                **{**shared, "database": await module_db(name), "run_background": False, **extra}
            )
            await asyncio.to_thread(upgrade, migrations, settings.database_url)
            app = build(settings)
            url = await exits.enter_async_context(serve(app))
            client = await exits.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
            svc = Service(name, app, settings, client)
            svc.prepared["webhook-secret"] = secret
            await SEEDS[name](svc)
            running[name] = svc
        yield running


# ------------------------------------------------------------------ seeding


def payee(payee_id: str, **extra: Any) -> PayeeRecord:
    return PayeeRecord.model_validate(
        {"id": payee_id, "name": payee_id.title(), "manager": HIERARCHY.get(payee_id), **extra}
    )


async def seed_ingest(svc: Service) -> None:
    deal = {
        "external_id": "D-RBAC",
        "status": "won",
        "amount": "1250.00",
        "currency": "USD",
        "close_date": "2027-02-10",
        "changed_at": datetime.now(UTC).isoformat(),
        "owner": "generic:u-ann",
    }
    raw = json.dumps({"type": "deal.snapshot", "data": deal}).encode()
    headers = {
        "content-type": "application/json",
        **signed_headers(svc.prepared["webhook-secret"], "rbac-1", raw),
    }
    r = await svc.client.post("/webhooks/generic", content=raw, headers=headers)
    assert r.is_success, r.text


async def seed_calc(svc: Service) -> None:
    await ex.calc_company(svc)  # the plan `audit-flat` and `ann` (no manager): hers, next
    assigned = {"assignments": [{"plan": "audit-flat"}]}
    async with svc.uow() as uow:
        for payee_id in HIERARCHY:
            await calc_handlers.on_payee(uow, payee(payee_id, **assigned))
        await uow.commit()


async def seed_quota(svc: Service) -> None:
    yaml_headers = {"content-type": "application/yaml"}
    for plan_id, rates in (("ann-plan", ("0.10", "0.12")), ("rob-plan", ("0.10",))):
        for rate in rates:
            text = ex.QUOTA_PLAN.format(plan_id=plan_id).replace("rate: 0.10", f"rate: {rate}")
            await svc.call("PUT", f"/plans/{plan_id}", "admin", "ada", content=text, headers=yaml_headers)
    for payee_id, manager in HIERARCHY.items():
        body: dict[str, Any] = {"name": payee_id.title(), "manager": manager}
        if payee_id in ("mia", "max"):
            body["roles"] = ["manager"]
        if payee_id in ("ann", "rob"):
            body["assignments"] = [{"plan": f"{payee_id}-plan"}]
        await svc.call("PUT", f"/payees/{payee_id}", "admin", "ada", json=body)
    for payee_id in ("ada", "otto", "pat"):  # so that `/me` answers every role
        await svc.call("PUT", f"/payees/{payee_id}", "admin", "ada", json={"name": payee_id.title()})
    for team, lead, member in (("ann-team", "mia", "ann"), ("rob-team", "max", "rob")):
        body = {"name": team, "lead": lead, "members": [{"payee": member}]}
        await svc.call("PUT", f"/teams/{team}", "admin", "ada", json=body)
        await svc.call("PUT", f"/targets/team:{team}/calls/{PERIOD}", "admin", "ada", json={"value": "100"})
    for payee_id in ("ann", "rob"):
        await svc.call("PUT", f"/quotas/{payee_id}/{PERIOD}", "admin", "ada", json={"amount": "10000"})
        await svc.call(
            "PUT", f"/targets/payee:{payee_id}/calls/{PERIOD}", "admin", "ada", json={"value": "50"}
        )
    await svc.call("PUT", "/territories/emea", "admin", "ada", json={"name": "EMEA", "values": ["DE"]})
    await svc.call("PUT", "/fx-rates/2027-01-04/EUR/USD", "admin", "ada", json={"rate": "1.08"})


async def seed_payout(svc: Service) -> None:
    # ann's January entries, January closed (the audit examples' books), then the hierarchy
    # (ann again, now under mia), a JPY batch of her January and a dispute of hers.
    async with svc.uow() as uow:
        await payout_handlers.on_ledger_entry(uow, ex._entry("jan-JPY", MONTH, "JPY"))
        await uow.commit()
    await ex.payout_books(svc)
    async with svc.uow() as uow:
        for payee_id in HIERARCHY:
            await payout_handlers.on_payee(uow, payee(payee_id, payroll_id=f"E-{payee_id}"))
        await uow.commit()
    batch = await svc.call("POST", "/batches", "admin", "ada", json={"pay_period": MONTH, "currency": "JPY"})
    await svc.call("POST", f"/batches/{batch['id']}/approve", "admin", "bea")  # payroll pulls approved ones
    svc.prepared["batch"] = batch["id"]
    svc.prepared["dispute"] = (await ex.opened_dispute(svc))["id"]


SEEDS: dict[str, Callable[[Service], Awaitable[None]]] = {
    "deal-ingest": seed_ingest,
    "calc-engine": seed_calc,
    "quota-service": seed_quota,
    "payout-service": seed_payout,
}


# ------------------------------------------------------------------ the requests


def get(path: str, **params: str) -> Callable[[Service], Awaitable[Example]]:
    """A GET about TARGET, made as whoever the matrix says (`role`/`sub` are placeholders);
    `{batch}` and `{dispute}` are filled from the seed."""

    async def build(svc: Service) -> Example:
        full = path.format(**svc.prepared) if "{" in path else path
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return Example("GET", f"{full}?{query}" if query else full, "admin", "ada")

    return build


async def estimate_for_target(svc: Service) -> Example:
    """`POST /estimate` about TARGET by name (the audit example leaves `payee` to the caller)."""
    deal = {"amount": "5000", "currency": "USD", "close_date": "2027-02-20"}
    return Example("POST", "/estimate", "rep", TARGET, json={"payee": TARGET, "deal": deal})


COMMON_GETS: dict[Route, Callable[[Service], Awaitable[Example]]] = {
    ("GET", "/dlq"): get("/dlq"),
    ("GET", "/audit"): get("/audit"),
    ("GET", "/outbox/parked"): get("/outbox/parked"),
    ("GET", "/healthz"): get("/healthz"),
    ("GET", "/readyz"): get("/readyz"),
}
REQUESTS: dict[str, dict[Route, Callable[[Service], Awaitable[Example]]]] = {
    "deal-ingest": {
        ("GET", "/deals"): get("/deals"),
        ("GET", "/deals/{source}/{external_id}"): get("/deals/generic/D-RBAC"),
        ("GET", "/deliveries"): get("/deliveries"),
        ("GET", "/admin/published-revisions"): get("/admin/published-revisions"),
    },
    "calc-engine": {
        ("GET", "/ledger"): get("/ledger"),
        ("GET", "/exceptions"): get("/exceptions"),
        ("GET", "/deals"): get("/deals"),
        ("GET", "/explain/{payee}/{period}"): get(f"/explain/{TARGET}/{PERIOD}"),
        ("POST", "/estimate"): estimate_for_target,
    },
    "quota-service": {
        ("GET", "/me"): get("/me"),
        ("GET", "/plans"): get("/plans"),
        ("GET", "/plans/{plan_id}"): get(f"/plans/{TARGET}-plan"),
        ("GET", "/plans/{plan_id}/diff"): get(f"/plans/{TARGET}-plan/diff"),
        ("GET", "/payees"): get("/payees"),
        ("GET", "/payees/{payee_id}"): get(f"/payees/{TARGET}"),
        ("GET", "/teams"): get("/teams"),
        ("GET", "/teams/{team_id}"): get(f"/teams/{TARGET}-team"),
        ("GET", "/teams/{team_id}/members"): get(f"/teams/{TARGET}-team/members", as_of="2027-02-01"),
        ("GET", "/territories"): get("/territories"),
        ("GET", "/territories/{territory_id}"): get("/territories/emea"),
        ("GET", "/quotas"): get("/quotas"),
        ("GET", "/quotas/{payee}/{period}"): get(f"/quotas/{TARGET}/{PERIOD}"),
        ("GET", "/targets"): get("/targets"),
        ("GET", "/targets/{subject}/{kpi}/{period}"): get(f"/targets/payee:{TARGET}/calls/{PERIOD}"),
        ("GET", "/targets/reconcile"): get("/targets/reconcile", period=PERIOD),
        ("GET", "/fx-rates"): get("/fx-rates"),
        ("GET", "/attainment/{payee}/{period}"): get(f"/attainment/{TARGET}/{PERIOD}"),
        ("GET", "/scorecards/{subject}/{period}"): get(f"/scorecards/payee:{TARGET}/{PERIOD}"),
        ("GET", "/leaderboards/{kpi}/{period}"): get(f"/leaderboards/revenue/{PERIOD}"),
        ("GET", "/admin/published"): get("/admin/published"),
    },
    "payout-service": {
        ("GET", "/statements/{payee}"): get(f"/statements/{TARGET}"),
        ("GET", "/statements/{payee}/{pay_period}"): get(f"/statements/{TARGET}/{MONTH}"),
        ("GET", "/pay-periods"): get("/pay-periods"),
        ("GET", "/adjustments"): get("/adjustments"),
        ("GET", "/disputes"): get("/disputes"),
        ("GET", "/disputes/{dispute_id}"): get("/disputes/{dispute}"),
        ("GET", "/batches"): get("/batches"),
        ("GET", "/batches/{batch_id}"): get("/batches/{batch}"),
        ("GET", "/payroll/batches"): get("/payroll/batches"),
        ("GET", "/payroll/batches/{batch_id}"): get("/payroll/batches/{batch}"),
        ("GET", "/payroll/batches/{batch_id}/lines.csv"): get("/payroll/batches/{batch}/lines.csv"),
        ("GET", "/accounting/commission-expense"): get(
            "/accounting/commission-expense", **{"from": MONTH, "to": "2027-03"}
        ),
        ("GET", "/accounting/journal/{month}"): get(f"/accounting/journal/{MONTH}"),
        ("GET", "/accounting/journal/{month}.csv"): get(f"/accounting/journal/{MONTH}.csv"),
        ("GET", "/accounting/schedules"): get("/accounting/schedules"),
    },
}


# More requests on scoped routes, about ann's team or filtered to ann: each is called by the
# manager in scope (`mia`, who leads `ann-team`: 2xx) and by both outsiders (403 or filtered).
Leak = Callable[[str], bool]


def shows_target(text: str) -> bool:
    """Whether an answer shows anything of TARGET's (her id, name, plan or team)."""
    return LEAK.search(text) is not None


def shows_others_on_board(text: str) -> bool:
    """A leaderboard asked for by name (`team=ann-team` echoes it): whether a row other than
    the caller's carries a payee or a value."""
    return any(row["payee"] or row["value"] for row in json.loads(text)["entries"] if not row["you"])


Variant = tuple[Callable[[Service], Awaitable[Example]], Leak]
SCOPE_VARIANTS: dict[str, dict[Route, list[Variant]]] = {
    "calc-engine": {},
    "deal-ingest": {},
    "quota-service": {
        ("GET", "/quotas"): [(get("/quotas", payee=TARGET), shows_target)],
        ("GET", "/targets"): [
            (get("/targets", subject=f"payee:{TARGET}"), shows_target),
            (get("/targets", subject="team:ann-team"), shows_target),
        ],
        ("GET", "/targets/{subject}/{kpi}/{period}"): [
            (get(f"/targets/team:ann-team/calls/{PERIOD}"), shows_target)
        ],
        ("GET", "/targets/reconcile"): [
            (get("/targets/reconcile", period=PERIOD, team="ann-team"), shows_target)
        ],
        ("GET", "/attainment/{payee}/{period}"): [(get(f"/attainment/team:ann-team/{PERIOD}"), shows_target)],
        ("GET", "/scorecards/{subject}/{period}"): [
            (get(f"/scorecards/team:ann-team/{PERIOD}"), shows_target)
        ],
        ("GET", "/leaderboards/{kpi}/{period}"): [
            (get(f"/leaderboards/revenue/{PERIOD}", team="ann-team"), shows_others_on_board)
        ],
    },
    "payout-service": {("GET", "/disputes"): [(get("/disputes", payee=TARGET), shows_target)]},
}


def request_for(name: str, route: Route) -> Callable[[Service], Awaitable[Example]] | None:
    """This matrix's request for a route, else the audit walk's example."""
    return (
        REQUESTS[name].get(route)
        or COMMON_GETS.get(route)
        or ex.EXAMPLES.get(name, {}).get(route)
        or ex.READ_ONLY.get(name, {}).get(route)
    )


# ------------------------------------------------------------------ the matrix


@dataclass
class Figures:
    cells: int = 0
    violations: list[str] = field(default_factory=list)
    # Outsider cells: refused (403) or answered with a filtered 2xx.
    refused: int = 0
    filtered: int = 0


FIGURES: dict[str, Figures] = {}


def described_roles(description: str) -> set[str] | None:
    """The roles the description's "Roles:" line names ("any" is all five)."""
    found = re.search(r"^\s*Roles:\s*(.+?)(?:\n\s*\n|\Z)", description, re.S | re.M)
    if found is None:
        return None
    text = " ".join(found.group(1).split())
    if text.startswith("any"):
        return set(ROLES)
    text = re.sub(r"\([^()]*\)", "", text).split(";")[0].strip().rstrip(".")
    return {part.strip() for part in text.split(",")}


def declaration_problems(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    """What is wrong with an operation's declaration itself (before any call)."""
    grants = declared(operation)  # ValueError: no declaration at all
    if grants is None:
        return []
    problems = []
    named = described_roles(operation.get("description", ""))
    if named != set(grants):
        problems.append(f'the "Roles:" line names {sorted(named or [])}, the declaration {sorted(grants)}')
    if method != "GET" and "ops" in grants and (method, path) not in READ_ONLY_WRITES:
        problems.append("ops is read-only, but this write admits it")
    if method != "GET" and "payroll" in grants and not path.startswith("/payroll/"):
        problems.append("payroll pulls and acknowledges payouts only, but this write admits it")
    return problems


Judge = Callable[[httpx.Response], str | None]


@dataclass
class Row:
    """One operation's row of the matrix: its request and declaration, and the cells called."""

    svc: Service
    method: str
    path: str
    example: Example
    grants: dict[Role, Scope]
    figures: Figures

    def violation(self, who: str, message: str) -> None:
        self.figures.violations.append(f"{self.svc.name} {self.method} {self.path} as {who}: {message}")

    async def cell(
        self, who: str, role: Role | None, sub: str, judge: Judge, request: Example | None = None
    ) -> None:
        """Call the operation as `role` `sub` (no token: None) and judge the answer."""
        request = request or self.example
        headers = {**request.headers, **(self.svc.auth(role, sub) if role is not None else {})}
        response = await self.svc.client.request(
            request.method, request.path, headers=headers, json=request.json, content=request.content
        )
        self.figures.cells += 1
        wrong = judge(response)
        if wrong is not None:
            self.violation(who, f"{wrong} ({response.status_code}: {response.text[:200]})")

    async def refused(self) -> None:
        """No token: 401; every undeclared role: 403."""
        await self.cell(
            "nobody", None, "", lambda r: None if r.status_code == 401 else "no token must be 401"
        )
        for role in ROLES:
            if role not in self.grants:
                await self.cell(role, role, SUBS[role], refused_judge)

    async def outsiders(self, request: Example, leak: Leak) -> None:
        """The manager outside the subtree and the other rep, where the role is scoped."""
        judge = functools.partial(outsider_judge, figures=self.figures, leak=leak)
        for scope, (role, sub) in OUTSIDERS.items():
            if self.grants.get(role) == scope:
                await self.cell(f"{role} {sub} (outside) on {request.path}", role, sub, judge, request)

    async def admitted(self) -> None:
        """Every declared role: the example's own caller first (it must succeed), then the others."""
        order = sorted(self.grants, key=lambda r: r != self.example.role)
        for role in order:
            sub = self.example.sub if role == self.example.role else SUBS[role]
            strict = self.method == "GET" or role == order[0]
            await self.cell(f"{role} {sub}", role, sub, functools.partial(admitted_judge, strict=strict))


async def check_route(
    svc: Service, method: str, path: str, operation: dict[str, Any], figures: Figures
) -> None:
    """Every cell of one operation's row; violations go to `figures`."""
    try:
        grants = declared(operation)
        problems = declaration_problems(method, path, operation)
    except ValueError as exc:
        figures.violations.append(f"{svc.name} {method} {path}: {exc}")
        return
    figures.violations += [f"{svc.name} {method} {path}: {problem}" for problem in problems]
    build = request_for(svc.name, (method, path))
    if build is None:
        figures.violations.append(f"{svc.name} {method} {path}: no request here; add one to REQUESTS")
        return
    row = Row(svc, method, path, await build(svc), grants or {}, figures)
    if grants is None:
        await row.cell("nobody", None, "", lambda r: None if r.is_success else "a public route refused")
        return
    await row.refused()
    await row.outsiders(row.example, shows_target)
    for variant, leak in SCOPE_VARIANTS[svc.name].get((method, path), []):
        about = await variant(svc)
        await row.outsiders(about, leak)
        await row.cell(f"manager mia on {about.path}", "manager", "mia", admitted_judge, about)
    await row.admitted()


def refused_judge(response: httpx.Response) -> str | None:
    return None if response.status_code == 403 else "an undeclared role must be 403"


def admitted_judge(response: httpx.Response, strict: bool = True) -> str | None:
    if response.status_code in (401, 403):
        return "a declared role was refused"
    if strict and not response.is_success:
        return "a declared role's request did not succeed"
    if response.status_code >= 500:
        return "server error"
    return None


def outsider_judge(response: httpx.Response, figures: Figures, leak: Leak) -> str | None:
    if response.status_code == 403:
        figures.refused += 1
        return None
    if not response.is_success:
        return "outside the caller's scope must be 403 (or a filtered 2xx)"
    if leak(response.text):
        return f"shows {TARGET}'s data outside the caller's scope"
    figures.filtered += 1
    return None


@pytest.fixture(scope="module", autouse=True)
def report_figures() -> Iterator[None]:
    yield
    total_cells = sum(f.cells for f in FIGURES.values())
    total_violations = sum(len(f.violations) for f in FIGURES.values())
    print(f"\nRBAC cells checked / violations: {total_cells} / {total_violations} (all services)")


@pytest.mark.parametrize("name", list(SERVICES))
async def test_every_route_admits_exactly_its_declared_roles(name: str, services: dict[str, Service]) -> None:
    svc = services[name]
    figures = FIGURES.setdefault(name, Figures())
    exempt: list[str] = []
    paths: dict[str, dict[str, Any]] = svc.app.openapi()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            if path.startswith(EXEMPT_PREFIX):
                requirements = operation.get("security", [])
                assert all(BEARER_SCHEME not in r for r in requirements), f"{path}: a door takes a token"
                exempt.append(f"{method.upper()} {path}")
                continue
            await check_route(svc, method.upper(), path, operation, figures)
    # `/metrics` is public and not in the OpenAPI: called here by hand.
    metrics = await svc.client.get("/metrics")
    figures.cells += 1
    if metrics.status_code != 200:
        figures.violations.append(
            f"{name} GET /metrics as nobody: a public route refused ({metrics.status_code})"
        )
    print(
        f"\nRBAC {name}: cells checked / violations: {figures.cells} / {len(figures.violations)}"
        f" (outsiders refused {figures.refused}, shown a filtered list {figures.filtered})"
        + (f"; exempt: {exempt} ({EXEMPT_REASON})" if exempt else "")
    )
    assert not figures.violations, "\n".join(figures.violations)
