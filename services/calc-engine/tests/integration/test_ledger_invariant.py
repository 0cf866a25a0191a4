"""The ledger invariant on real Postgres: whatever the order of events and however often
they repeat, the ledger sums per (payee, component, period) equal the pure engine on the
final inputs, and `recompute` finds nothing to post."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from calc_engine.adapters.repositories import CalcRepositories, sql_repositories
from calc_engine.adapters.tables import shared
from calc_engine.bootstrap import MIGRATIONS
from calc_engine.service_layer.handlers import on_deal, on_payee, on_plan, on_quota, reconcile_pending
from calc_engine.service_layer.reconcile import recompute
from provisio_calc import Deal, Payee, Quota, calculate, load_plan
from provisio_common.auth import Principal
from provisio_common.db import create_engine, session_factory
from provisio_common.embedded import EmbeddedPostgres
from provisio_common.events import (
    DealSnapshot,
    Envelope,
    PayeeRecord,
    PlanAssignment,
    PlanVersion,
    QuotaRecord,
    Schema,
)
from provisio_common.migrations import upgrade
from provisio_common.routes import outgoing, schema_of
from provisio_common.settings import ProvisioSettings
from provisio_common.uow import InboxMark, SqlUnitOfWork

YEAR = datetime.now(UTC).year
PLAN = f"""
id: tiered
currency: USD
period: quarter
effective: {{from: {YEAR}-01-01, to: {YEAR}-12-31}}
components:
  - id: new-business
    kind: commission
    measure: {{metric: amount}}
    tiers:
      basis: attainment
      method: retroactive
      bands: [{{to: 100, rate: "0.05"}}, {{rate: "0.10"}}]
  - id: override
    kind: commission
    applies_to: {{roles: [manager]}}
    credit: [team_rollup]
    rate: "0.01"
clawback: {{window_days: 90}}
"""
VERSION_2 = {
    **load_plan(PLAN).document(),
    "version": 2,
    "effective": {"from": f"{YEAR}-04-01", "to": f"{YEAR}-12-31"},
    "components": [
        {
            **load_plan(PLAN).document()["components"][0],
            "tiers": {
                "basis": "attainment",
                "method": "marginal",
                "bands": [{"to": 80, "rate": "0.04"}, {"rate": "0.12"}],
            },
        },
        load_plan(PLAN).document()["components"][1],
    ],
}
REPS = ["ann", "bob", "cy", "dee"]
Handler = Callable[[Any, Any], Awaitable[None]]
HANDLERS: dict[type[Schema], Handler] = {
    PlanVersion: on_plan,
    PayeeRecord: on_payee,
    QuotaRecord: on_quota,
    DealSnapshot: on_deal,
}


def envelope(record: Schema) -> Envelope:
    return outgoing(record, "t").envelope


def events() -> list[Envelope]:
    rng = random.Random(7)
    plan = load_plan(PLAN)
    out = [
        envelope(
            PlanVersion(plan_id="tiered", version=1, document=plan.document(), created_at=datetime.now(UTC))
        ),
        # version 2 takes over from Q2 with other rates: whatever the order, Q1 stays version 1's
        envelope(PlanVersion(plan_id="tiered", version=2, document=VERSION_2, created_at=datetime.now(UTC))),
    ]
    people = [("boss", None, ["manager"]), *((rep, "boss", ["rep"]) for rep in REPS)]
    for pid, manager, roles in people:
        out.append(
            envelope(
                PayeeRecord(
                    id=pid,
                    name=pid,
                    manager=manager,
                    roles=roles,
                    crm_ids=[f"generic:{pid}"],
                    assignments=[PlanAssignment(plan="tiered")],
                )
            )
        )
    for pid in REPS:
        for q in (1, 2):
            out.append(envelope(QuotaRecord(payee=pid, period=f"{YEAR}-Q{q}", amount=Decimal("20000"))))
    for n in range(40):
        close = date(YEAR, 1, 1) + timedelta(days=rng.randint(0, 170))
        owner = rng.choice(REPS)
        base: dict[str, Any] = {
            "source": "generic",
            "external_id": f"D{n}",
            "status": "won",
            "amount": f"{rng.randint(1000, 9000)}.{rng.randint(0, 99):02d}",
            "currency": "USD",
            "close_date": close.isoformat(),
            "owner": f"generic:{owner}",
            "changed_at": f"{close.isoformat()}T12:00:00Z",
        }
        if n % 4 == 1:  # a split with another rep (a keyed run must redo both reps' lines)
            partner = rng.choice([r for r in REPS if r != owner])
            base["splits"] = [
                {"payee": owner, "share": "0.6"},
                {"payee": f"generic:{partner}", "share": "0.4"},
            ]
        out.append(envelope(DealSnapshot.model_validate({**base, "revision": 1})))
        later = (close + timedelta(days=10)).isoformat()
        if n % 5 == 0:  # a cancellation 10 days later (inside the clawback window)
            second = {"status": "cancelled"}
        elif n % 7 == 3:  # another rep takes the deal over, and it closes in another month
            moved = (close + timedelta(days=rng.choice([-40, 40]))).isoformat()
            second = {"owner": f"generic:{rng.choice(REPS)}", "close_date": moved}
        else:
            continue
        out.append(
            envelope(
                DealSnapshot.model_validate(
                    {**base, **second, "revision": 2, "changed_at": f"{later}T12:00:00Z"}
                )
            )
        )
    return out


async def apply_all(
    settings: ProvisioSettings, database: str, ordered: list[Envelope], seed: int
) -> dict[tuple[str, str, str], Decimal]:
    """Apply events as the consumer does: in units of work of random batch sizes, each
    with its inbox rows, handlers and one finisher run."""
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.dsn(database))
    engine = create_engine(settings.dsn(database))
    sessions = session_factory(engine)

    def uow() -> SqlUnitOfWork[CalcRepositories]:
        return SqlUnitOfWork(
            sessions=sessions, tables=shared, source="calc-engine", repositories=sql_repositories
        )

    rng = random.Random(seed)
    try:
        position = 0
        while position < len(ordered):
            size = rng.choice([1, 1, 2, 5, 9])
            chunk, position = ordered[position : position + size], position + size
            async with uow() as work:
                applied = []
                for env in chunk:
                    if not await work.record_inbox(InboxMark("t", env.id, "t", 0, 0)):
                        continue  # the inbox makes a repeated event a no-op
                    schema = schema_of(env.type)
                    assert schema is not None
                    await HANDLERS[schema](work, schema.model_validate(env.data))
                    applied.append(env)
                if applied:
                    await reconcile_pending(work, applied)
                await work.commit()
        assert await recompute(uow(), Principal("ada", "admin")) == 0
        async with uow() as work:
            entries = await work.repos.ledger.entries(limit=100_000)
        sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for entry in entries:
            sums[(entry.payee, entry.component, entry.period)] += entry.amount
        return dict(sums)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("seed", [1, 2])
async def test_any_order_with_duplicates_gives_the_pure_engines_numbers(
    fresh_db: Callable[[str], Awaitable[str]], embedded_pg: EmbeddedPostgres, seed: int
) -> None:
    settings = ProvisioSettings(pg_port=embedded_pg.port)
    keyed_before = keyed_runs()
    all_events = events()
    in_order = await apply_all(settings, await fresh_db("inorder"), all_events, seed)
    shuffled = list(all_events) + random.Random(seed).sample(all_events, 10)  # duplicates
    random.Random(seed).shuffle(shuffled)
    out_of_order = await apply_all(settings, await fresh_db("shuffled"), shuffled, seed + 100)
    assert out_of_order == in_order

    # ... and both equal the pure engine over the final inputs (per line, exactly).
    deals = [
        Deal.from_dict(
            {
                **e.data,
                "owner": e.data["owner"].removeprefix("generic:"),
                "splits": [{**s, "payee": s["payee"].removeprefix("generic:")} for s in e.data["splits"]],
            }
        )
        for e in all_events
        if e.type == "deal.snapshot"
    ]
    payees = [Payee("boss", roles=("manager",)), *(Payee(rep, manager="boss") for rep in REPS)]
    quotas = [
        Quota(e.data["payee"], e.data["period"], Decimal(e.data["amount"]))
        for e in all_events
        if e.type == "quota"
    ]
    versions = [load_plan(PLAN), load_plan(VERSION_2)]
    result = calculate(versions, deals, payees=payees, quotas=quotas, as_of=datetime.now(UTC).date())
    expected: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for line in result.lines:
        expected[(line.payee, line.component, line.period)] += line.earned
    assert {k: v for k, v in in_order.items() if v} == {k: v for k, v in expected.items() if v}
    assert any(k[1] == "override" for k in in_order)  # the manager's rollup is there
    assert keyed_runs() > keyed_before  # deal and quota events ran keyed (domain.keyed)


def keyed_runs() -> float:
    return REGISTRY.get_sample_value("provisio_calc_run_deals_count", {"scope": "keyed"}) or 0.0
