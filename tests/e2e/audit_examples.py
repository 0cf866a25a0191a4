"""One successful request for every non-GET route of every service, for the audit-trail
walk (`test_audit_trail.py`): a builder prepares the state the request needs (through the
service's own API, or its consumer handlers for the replicas other services feed) and
returns the request. A route added without an example here fails that test.

`READ_ONLY` routes are POSTs that change nothing (a body too rich for a query string):
their example must write no audit row. `EXEMPT` routes are not called; each says why.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
import yaml
from fastapi import FastAPI

from calc_engine.service_layer import handlers as calc_handlers
from payout_service.service_layer import handlers as payout_handlers
from provisio_common.auth import Role, mint_token
from provisio_common.dead_letters import DeadLetter
from provisio_common.events import LedgerEntryRecord, PayeeRecord, PlanVersion
from provisio_common.settings import ServiceSettings
from provisio_common.uow import UnitOfWork


@dataclass
class Service:
    """One running service: its app (for its units of work), settings and an HTTP client."""

    name: str
    app: FastAPI
    settings: ServiceSettings
    client: httpx.AsyncClient
    # What builders prepared once and share (`once`).
    prepared: dict[str, Any] = field(default_factory=dict)

    def auth(self, role: Role, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, sub, role)}"}

    def uow(self) -> UnitOfWork[Any]:
        uow: UnitOfWork[Any] = self.app.state.runtime.uow()
        return uow

    async def call(self, method: str, path: str, role: Role, sub: str, **kwargs: Any) -> Any:
        """A preparatory request; it must succeed. Its JSON body."""
        headers = {**self.auth(role, sub), **kwargs.pop("headers", {})}
        r = await self.client.request(method, path, headers=headers, **kwargs)
        assert r.is_success, (method, path, r.status_code, r.text)
        return r.json()

    async def once(self, key: str, prepare: Callable[[], Awaitable[Any]]) -> Any:
        """`prepare()` the first time `key` is asked for; its result every time."""
        if key not in self.prepared:
            self.prepared[key] = await prepare()
        return self.prepared[key]


@dataclass(frozen=True)
class Example:
    """The request under test, made as `role` `sub`; it must answer 2xx."""

    method: str
    path: str
    role: Role
    sub: str
    json: Any = None
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


Builder = Callable[[Service], Awaitable[Example]]
Route = tuple[str, str]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ------------------------------------------------------------------ every service


async def dlq_replay(svc: Service) -> Example:
    letter = DeadLetter(
        consumer=f"{svc.name}-audit-example",
        topic="deals.v1",
        partition=0,
        offset=int(uuid.uuid4().int % 10**12),
        key=b"k",
        payload=b"not an envelope",
        headers={},
        event_id=None,
        error="ValueError: example",
        error_type="ValueError",
        attempts=1,
    )
    async with svc.uow() as uow:
        letter_id = await uow.dead_letters.add(letter)
        await uow.commit()
    return Example("POST", f"/dlq/{letter_id}/replay", "admin", "ada")


async def release_parked(svc: Service) -> Example:
    """An outbox row parked as the relay parks one it can never publish."""
    runtime = svc.app.state.runtime
    outbox = runtime.tables.outbox
    row = {
        "event_id": unique("evt"),
        "topic": "deals.v1",
        "key": unique("key"),
        "payload": b"{}",
        "parked_at": sa.func.now(),
        "park_error": "example: too large",
    }
    async with runtime.engine.begin() as conn:
        row_id = (await conn.execute(outbox.insert().values(**row).returning(outbox.c.id))).scalar_one()
    return Example("POST", f"/outbox/parked/{row_id}/release", "admin", "ada")


COMMON: dict[Route, Builder] = {
    ("POST", "/dlq/{letter_id}/replay"): dlq_replay,
    ("POST", "/outbox/parked/{row_id}/release"): release_parked,
}


# ------------------------------------------------------------------ deal-ingest


async def ingest_replay(svc: Service) -> Example:
    window = {"source": "generic", "since": "2020-01-01T00:00:00Z", "until": "2040-01-01T00:00:00Z"}
    return Example("POST", "/admin/replay", "admin", "ada", json=window)


WEBHOOKS = (
    "a CRM's delivery, not a user's request (no token, so no actor): each accepted delivery is "
    "kept verbatim in the `deliveries` log (GET /deliveries) with its source, delivery id, "
    "headers and outcome, in the transaction that stores its snapshot; that is its record. "
    "A refused one changes nothing (401/422, counted)."
)

# ------------------------------------------------------------------ calc-engine

CALC_PLAN = """
id: audit-flat
currency: USD
period: quarter
effective: {from: "2027-01-01", to: "2027-12-31"}
components:
  - id: commission
    kind: commission
    measure: {metric: amount}
    rate: "0.10"
"""


async def calc_company(svc: Service) -> None:
    """A plan and a rep on it in calc-engine's replicas, as plans.v1 and payees.v1 bring them."""

    async def prepare() -> None:
        document = _yaml(CALC_PLAN)
        created = "2027-01-01T00:00:00Z"
        plan = PlanVersion.model_validate(
            {"plan_id": "audit-flat", "version": 1, "document": document, "created_at": created}
        )
        assigned = [{"plan": "audit-flat"}]
        rep = PayeeRecord.model_validate({"id": "ann", "name": "Ann", "assignments": assigned})
        async with svc.uow() as uow:
            await calc_handlers.on_plan(uow, plan)
            await calc_handlers.on_payee(uow, rep)
            await uow.commit()

    await svc.once("calc-company", prepare)


def _yaml(text: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(text)
    return document


async def recompute(svc: Service) -> Example:
    return Example("POST", "/recompute", "admin", "ada")


async def estimate(svc: Service) -> Example:
    await calc_company(svc)
    deal = {"amount": "5000", "currency": "USD", "close_date": "2027-02-20"}
    return Example("POST", "/estimate", "rep", "ann", json={"deal": deal})


async def simulate(svc: Service) -> Example:
    await calc_company(svc)
    body = {"plan": CALC_PLAN.replace('"0.10"', '"0.12"'), "from": "2027-01-01", "to": "2027-03-31"}
    return Example("POST", "/simulate", "admin", "ada", json=body)


# ------------------------------------------------------------------ quota-service

QUOTA_PLAN = """
id: {plan_id}
name: Flat
currency: USD
period: quarter
pay_frequency: month
effective: {{from: 2027-01-01, to: 2027-12-31}}
components:
  - id: commission
    kind: commission
    measure: {{metric: amount}}
    rate: 0.10
"""


async def quota_payee(svc: Service, payee_id: str = "boss") -> str:
    """A payee known to quota-service (made once)."""

    async def prepare() -> str:
        await svc.call("PUT", f"/payees/{payee_id}", "admin", "ada", json={"name": payee_id.title()})
        return payee_id

    name: str = await svc.once(f"payee:{payee_id}", prepare)
    return name


async def republish(svc: Service) -> Example:
    payee = await quota_payee(svc)
    body = {"payees": [payee], "quotas": [f"{payee}:2027-Q1"], "fx_rates": ["2027-01-01:EUR:USD"]}
    return Example("POST", "/admin/republish", "admin", "ada", json=body)


async def put_plan(svc: Service) -> Example:
    plan_id = unique("plan")
    return Example(
        "PUT",
        f"/plans/{plan_id}",
        "admin",
        "ada",
        content=QUOTA_PLAN.format(plan_id=plan_id),
        headers={"content-type": "application/yaml"},
    )


async def put_payee(svc: Service) -> Example:
    return Example("PUT", f"/payees/{unique('rep')}", "admin", "ada", json={"name": "Rep"})


async def put_team(svc: Service) -> Example:
    lead = await quota_payee(svc)
    return Example("PUT", f"/teams/{unique('team')}", "admin", "ada", json={"name": "East", "lead": lead})


async def put_territory(svc: Service) -> Example:
    body = {"name": "EMEA", "values": ["DE", "FR"]}
    return Example("PUT", f"/territories/{unique('emea')}", "admin", "ada", json=body)


async def put_quota(svc: Service) -> Example:
    payee = await quota_payee(svc)
    return Example("PUT", f"/quotas/{payee}/2027-Q1", "admin", "ada", json={"amount": "10000"})


async def put_target(svc: Service) -> Example:
    payee = await quota_payee(svc)
    return Example("PUT", f"/targets/payee:{payee}/calls/2027-Q1", "admin", "ada", json={"value": "120"})


async def put_fx_rate(svc: Service) -> Example:
    return Example("PUT", "/fx-rates/2027-01-04/EUR/USD", "admin", "ada", json={"rate": "1.0825"})


def csv_example(path: str, text: str) -> Example:
    return Example("POST", path, "admin", "ada", content=text, headers={"content-type": "text/csv"})


async def import_payees(svc: Service) -> Example:
    return csv_example("/import/payees", f"id,name\n{unique('imp')},Imported\n{unique('imp')},Also\n")


async def import_quotas(svc: Service) -> Example:
    payee = await quota_payee(svc)
    return csv_example("/import/quotas", f"payee,period,amount\n{payee},2027-Q2,500\n{payee},2027-Q3,600\n")


async def import_targets(svc: Service) -> Example:
    payee = await quota_payee(svc)
    return csv_example("/import/targets", f"subject,kpi,period,value\npayee:{payee},calls,2027-Q2,30\n")


# ------------------------------------------------------------------ payout-service

# January 2027 is closed with a payable line in each of these currencies (a batch per
# currency, so each batch example has its own); February has an entry and stays open.
BATCH_CURRENCIES = {"build": "USD", "approve": "EUR", "cancel": "GBP", "ack": "CHF"}


async def payout_books(svc: Service) -> None:
    """ann (payroll id E-1) with January entries, January closed; a February entry."""

    async def prepare() -> None:
        ann = PayeeRecord.model_validate({"id": "ann", "name": "Ann", "payroll_id": "E-1"})
        entries = [
            _entry(f"jan-{currency}", "2027-01", currency) for currency in BATCH_CURRENCIES.values()
        ] + [_entry("feb", "2027-02", "USD")]
        async with svc.uow() as uow:
            await payout_handlers.on_payee(uow, ann)
            for entry in entries:
                await payout_handlers.on_ledger_entry(uow, entry)
            await uow.commit()
        await svc.call("POST", "/pay-periods/2027-01/close", "admin", "ada")

    await svc.once("payout-books", prepare)


def _entry(entry_id: str, pay_period: str, currency: str) -> LedgerEntryRecord:
    return LedgerEntryRecord.model_validate(
        {
            "entry_id": entry_id,
            "payee": "ann",
            "plan": "flat",
            "plan_version": 1,
            "component": "commission",
            "period": pay_period,
            "entry_date": f"{pay_period}-10",
            "pay_period": pay_period,
            "amount": "125",
            "currency": currency,
            "rounding": "half_up",
            "cash": True,
            "deal": "generic:D-1",
            "cause_event": f"evt-{entry_id}",
            "explanation": {"rate": "0.10", "value": "1250"},
            "posted_at": f"{pay_period}-10T12:00:00Z",
        }
    )


async def built_batch(svc: Service, use: str) -> dict[str, Any]:
    await payout_books(svc)
    body = {"pay_period": "2027-01", "currency": BATCH_CURRENCIES[use]}
    built: dict[str, Any] = await svc.call("POST", "/batches", "admin", "ada", json=body)
    return built


async def close_pay_period(svc: Service) -> Example:
    await payout_books(svc)
    return Example("POST", "/pay-periods/2027-02/close", "admin", "ada")


async def build_batch(svc: Service) -> Example:
    await payout_books(svc)
    body = {"pay_period": "2027-01", "currency": BATCH_CURRENCIES["build"]}
    return Example("POST", "/batches", "admin", "ada", json=body)


async def approve_batch(svc: Service) -> Example:
    batch = await built_batch(svc, "approve")
    return Example("POST", f"/batches/{batch['id']}/approve", "admin", "bea")  # not its builder


async def cancel_batch(svc: Service) -> Example:
    batch = await built_batch(svc, "cancel")
    return Example("POST", f"/batches/{batch['id']}/cancel", "admin", "ada")


async def acknowledge(svc: Service) -> Example:
    batch = await built_batch(svc, "ack")
    await svc.call("POST", f"/batches/{batch['id']}/approve", "admin", "bea")
    lines = [{"line_id": line["id"], "status": "paid", "payroll_ref": "PR-1"} for line in batch["lines"]]
    return Example(
        "POST",
        f"/payroll/batches/{batch['id']}/ack",
        "payroll",
        "payroll-1",
        json={"lines": lines},
        headers={"Idempotency-Key": unique("ack")},
    )


async def adjustment(svc: Service) -> dict[str, Any]:
    await payout_books(svc)
    body = {"payee": "ann", "amount": "-10.50", "currency": "USD", "reason": "draw", "pay_period": "2027-03"}
    made: dict[str, Any] = await svc.call("POST", "/adjustments", "admin", "ada", json=body)
    return made


async def create_adjustment(svc: Service) -> Example:
    await payout_books(svc)
    body = {"payee": "ann", "amount": "25", "currency": "USD", "reason": "spiff", "pay_period": "2027-03"}
    return Example("POST", "/adjustments", "admin", "ada", json=body)


async def approve_adjustment(svc: Service) -> Example:
    made = await adjustment(svc)
    return Example("POST", f"/adjustments/{made['id']}/approve", "admin", "bea", json={})


async def reject_adjustment(svc: Service) -> Example:
    made = await adjustment(svc)
    return Example("POST", f"/adjustments/{made['id']}/reject", "admin", "bea", json={"reason": "no"})


async def opened_dispute(svc: Service) -> dict[str, Any]:
    await payout_books(svc)
    body = {"payee": "ann", "pay_period": "2027-01", "message": "my January commission is short"}
    opened: dict[str, Any] = await svc.call("POST", "/disputes", "rep", "ann", json=body)
    return opened


async def open_dispute(svc: Service) -> Example:
    await payout_books(svc)
    body = {"payee": "ann", "pay_period": "2027-01", "entry_id": "jan-USD", "message": "this deal paid 10%"}
    return Example("POST", "/disputes", "rep", "ann", json=body)


async def comment_dispute(svc: Service) -> Example:
    dispute = await opened_dispute(svc)
    return Example("POST", f"/disputes/{dispute['id']}/comments", "rep", "ann", json={"message": "see D-1"})


async def resolve_dispute(svc: Service) -> Example:
    dispute = await opened_dispute(svc)
    body = {"outcome": "rejected", "note": "the plan pays 10%"}
    return Example("POST", f"/disputes/{dispute['id']}/resolve", "admin", "ada", json=body)


async def reopen_dispute(svc: Service) -> Example:
    dispute = await opened_dispute(svc)
    rejected = {"outcome": "rejected", "note": "the plan pays 10%"}
    await svc.call("POST", f"/disputes/{dispute['id']}/resolve", "admin", "ada", json=rejected)
    body = {"message": "the deal closed in the accelerator window"}
    return Example("POST", f"/disputes/{dispute['id']}/reopen", "rep", "ann", json=body)


# ------------------------------------------------------------------ the tables

EXAMPLES: dict[str, dict[Route, Builder]] = {
    "deal-ingest": {**COMMON, ("POST", "/admin/replay"): ingest_replay},
    "calc-engine": {**COMMON, ("POST", "/recompute"): recompute},
    "quota-service": {
        **COMMON,
        ("PUT", "/plans/{plan_id}"): put_plan,
        ("PUT", "/payees/{payee_id}"): put_payee,
        ("PUT", "/teams/{team_id}"): put_team,
        ("PUT", "/territories/{territory_id}"): put_territory,
        ("PUT", "/quotas/{payee}/{period}"): put_quota,
        ("PUT", "/targets/{subject}/{kpi}/{period}"): put_target,
        ("PUT", "/fx-rates/{day}/{source}/{target}"): put_fx_rate,
        ("POST", "/import/payees"): import_payees,
        ("POST", "/import/quotas"): import_quotas,
        ("POST", "/import/targets"): import_targets,
        ("POST", "/admin/republish"): republish,
    },
    "payout-service": {
        **COMMON,
        ("POST", "/pay-periods/{pay_period}/close"): close_pay_period,
        ("POST", "/batches"): build_batch,
        ("POST", "/batches/{batch_id}/approve"): approve_batch,
        ("POST", "/batches/{batch_id}/cancel"): cancel_batch,
        ("POST", "/payroll/batches/{batch_id}/ack"): acknowledge,
        ("POST", "/adjustments"): create_adjustment,
        ("POST", "/adjustments/{adjustment_id}/approve"): approve_adjustment,
        ("POST", "/adjustments/{adjustment_id}/reject"): reject_adjustment,
        ("POST", "/disputes"): open_dispute,
        ("POST", "/disputes/{dispute_id}/comments"): comment_dispute,
        ("POST", "/disputes/{dispute_id}/resolve"): resolve_dispute,
        ("POST", "/disputes/{dispute_id}/reopen"): reopen_dispute,
    },
}

READ_ONLY: dict[str, dict[Route, Builder]] = {
    "calc-engine": {("POST", "/estimate"): estimate, ("POST", "/simulate"): simulate},
}

EXEMPT: dict[str, dict[Route, str]] = {
    "deal-ingest": {
        ("POST", "/webhooks/generic"): WEBHOOKS,
        ("POST", "/webhooks/hubspot"): WEBHOOKS,
        ("POST", "/webhooks/pipedrive"): WEBHOOKS,
        ("POST", "/webhooks/salesforce"): WEBHOOKS,
        ("POST", "/webhooks/salesforce/outbound"): WEBHOOKS,
    },
}
