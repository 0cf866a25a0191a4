"""Contests end on time, on real Postgres and the real broker: calc-engine served with a clock
the test moves, fed through the broker. The prize is posted when the window ends although no
event follows, exactly once, and a restart that missed a window's end catches up at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx

from calc_engine.adapters.repositories import sql_repositories
from calc_engine.adapters.tables import shared
from calc_engine.bootstrap import MIGRATIONS, build_app
from calc_engine.service_layer.reconcile import recompute
from calc_engine.settings import CalcSettings
from provisio_common.auth import Principal, mint_token
from provisio_common.db import create_engine, session_factory
from provisio_common.embedded import EmbeddedBroker, EmbeddedPostgres
from provisio_common.events import DealSnapshot, PayeeRecord, PlanAssignment, PlanVersion, Schema
from provisio_common.kafka import make_producer
from provisio_common.migrations import upgrade
from provisio_common.routes import outgoing
from provisio_common.testing.plugin import CreateDb, eventually, serve
from provisio_common.uow import SqlUnitOfWork

FUTURE = datetime.now(UTC).year + 1  # contests the wall clock has not seen end


def contest(component: str, last_day: str, amount: str) -> dict[str, Any]:
    return {
        "id": component,
        "kind": "contest",
        "window": {"from": f"{FUTURE}-01-01", "to": last_day},
        "prizes": [{"rank": 1, "amount": amount}],
    }


PLAN: dict[str, Any] = {
    "id": "ae",
    "currency": "USD",
    "timezone": "America/Los_Angeles",
    "period": "quarter",
    "effective": {"from": f"{FUTURE}-01-01", "to": f"{FUTURE}-12-31"},
    "components": [
        {"id": "new-business", "kind": "commission", "rate": "0.10"},
        contest("march", f"{FUTURE}-03-31", "1000"),
        contest("april", f"{FUTURE}-04-30", "500"),
    ],
}


class Clock:
    """The service's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def won(external_id: str, owner: str, amount: str, day: str) -> DealSnapshot:
    return DealSnapshot.model_validate(
        {
            "source": "hubspot",
            "external_id": external_id,
            "revision": 1,
            "status": "won",
            "amount": amount,
            "currency": "USD",
            "close_date": day,
            "changed_at": f"{day}T12:00:00Z",
            "owner": owner,
        }
    )


async def produce(settings: CalcSettings, *records: Schema) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for record in records:
            out = outgoing(record, "test")
            await producer.send_and_wait(out.topic, out.envelope.to_bytes(), key=out.key.encode())
    finally:
        await producer.stop()


@contextlib.asynccontextmanager
async def running(settings: CalcSettings, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    """calc-engine served over HTTP with `clock`, an admin client on it."""
    token = mint_token(settings, "ada", "admin")
    async with (
        serve(build_app(settings, clock)) as url,
        httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http,
    ):
        yield http


async def entries(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await http.get("/ledger", params={"limit": 5000})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def prizes(found: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (e["payee"], e["component"], e["amount"], e["entry_date"])
        for e in found
        if e["component"] in ("march", "april")
    )


async def test_prizes_are_posted_when_windows_end_once_and_after_a_restart_that_missed_it(
    fresh_db: CreateDb, embedded_pg: EmbeddedPostgres, broker: EmbeddedBroker
) -> None:
    settings = CalcSettings(
        environment="test",
        pg_port=embedded_pg.port,
        kafka_bootstrap=broker.bootstrap,
        kafka_session_timeout_ms=3000,
        kafka_heartbeat_interval_ms=300,
        outbox_poll_interval_s=0.1,
        consumer_retry_backoff_s=0.01,
        contest_check_interval_s=0.1,
        log_json=False,
        database=await fresh_db("contests"),
    )
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    clock = Clock(datetime(FUTURE, 3, 15, tzinfo=UTC))

    async with running(settings, clock) as http:
        await produce(
            settings,
            PlanVersion(
                plan_id="ae", version=1, document=PLAN, created_at=datetime(FUTURE, 1, 1, tzinfo=UTC)
            ),
            *(
                PayeeRecord(id=p, name=p, roles=["rep"], assignments=[PlanAssignment(plan="ae")])
                for p in ("ann", "bob")
            ),
            won("1", "ann", "3000", f"{FUTURE}-02-10"),
            won("2", "bob", "2000", f"{FUTURE}-03-10"),
        )

        async def commissions_posted() -> bool:
            return len([e for e in await entries(http) if e["component"] == "new-business"]) == 2

        await eventually(commissions_posted)
        assert prizes(await entries(http)) == []  # the windows have not ended

        # The March window ends (in Los Angeles); no event follows, the prize comes anyway.
        clock.now = datetime(FUTURE, 4, 1, 8, tzinfo=UTC)

        async def march_awarded() -> bool:
            return prizes(await entries(http)) != []

        await eventually(march_awarded)
        assert prizes(await entries(http)) == [("ann", "march", "1000", f"{FUTURE}-03-31")]

    # Down while the April window ends; at start the scheduler catches up, once.
    clock.now = datetime(FUTURE, 5, 2, tzinfo=UTC)
    async with running(settings, clock) as http:

        async def april_awarded() -> bool:
            return any(p[1] == "april" for p in prizes(await entries(http)))

        await eventually(april_awarded)
        expected = [("ann", "april", "500", f"{FUTURE}-04-30"), ("ann", "march", "1000", f"{FUTURE}-03-31")]
        assert prizes(await entries(http)) == expected

    async with running(settings, clock) as http:
        # The restart's first pass finds both settled: the ledger is as it was. A new
        # deal (a reconciliation by the consumer) proves the service is up and changes no prize.
        await produce(settings, won("3", "bob", "100", f"{FUTURE}-02-11"))

        async def deal_3_posted() -> bool:
            return any(e["deal"] == "hubspot:3" for e in await entries(http))

        await eventually(deal_3_posted)
        assert prizes(await entries(http)) == expected

    # The invariant: a full recompute as of the service's day posts nothing.
    engine = create_engine(settings.database_url)
    try:
        uow = SqlUnitOfWork(
            sessions=session_factory(engine),
            tables=shared,
            source="calc-engine",
            repositories=sql_repositories,
        )
        assert await recompute(uow, Principal(sub="ada", role="admin"), as_of=date(FUTURE, 5, 2)) == 0
    finally:
        await engine.dispose()
