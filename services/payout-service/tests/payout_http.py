"""payout-service over real HTTP, Postgres and the broker, for integration tests: records are
published as their producing services' relays do, `today` is fixed, and what payout-service
publishes on `payouts.v1` can be read back."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from payout_service.api.deps import today
from payout_service.bootstrap import MIGRATIONS, build_app
from payout_service.settings import PayoutSettings
from provisio_common.auth import Role, mint_token
from provisio_common.events import Envelope, Schema
from provisio_common.kafka import make_producer
from provisio_common.migrations import upgrade
from provisio_common.routes import outgoing
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, serve


@dataclass
class Payout:
    url: str
    settings: PayoutSettings
    producer: AIOKafkaProducer
    client: httpx.AsyncClient
    events: list[Envelope] = field(default_factory=list)

    def auth(self, role: Role, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, sub, role)}"}

    async def publish(self, record: Schema, source: str = "calc-engine") -> None:
        """Send a record the way its producing service's outbox relay does."""
        out = outgoing(record, source)
        await self.producer.send_and_wait(out.topic, out.envelope.to_bytes(), key=out.key.encode())

    async def call(
        self, method: str, path: str, role: Role, sub: str, expect: int = 200, **kwargs: Any
    ) -> httpx.Response:
        """A request as `role` `sub`; asserts the status."""
        headers = {**self.auth(role, sub), **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response

    async def json(
        self, method: str, path: str, role: Role, sub: str, expect: int = 200, **kwargs: Any
    ) -> Any:
        return (await self.call(method, path, role, sub, expect, **kwargs)).json()


async def _read_payouts(settings: PayoutSettings, into: list[Envelope], stop: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        "payouts.v1",
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"finance-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200)
            for messages in batches.values():
                into += [Envelope.from_bytes(m.value) for m in messages if m.value is not None]
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def running_payout(
    fresh_db: CreateDb,
    base_settings: ProvisioSettings,
    on: date | Callable[[], date] | None = None,
    **overrides: Any,
) -> AsyncIterator[Payout]:
    """payout-service on a fresh database and this test's broker; `on` fixes today (or
    tells it)."""
    settings = PayoutSettings(
        **{**base_settings.model_dump(), "database": await fresh_db("payout"), **overrides}
    )
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    app = build_app(settings)
    if on is not None:
        app.dependency_overrides[today] = on if callable(on) else (lambda: on)
    producer = make_producer(settings)
    async with serve(app) as url:
        await producer.start()
        stop = asyncio.Event()
        events: list[Envelope] = []
        reader = asyncio.create_task(_read_payouts(settings, events, stop))
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                yield Payout(url, settings, producer, client, events)
        finally:
            stop.set()
            await reader
            await producer.stop()
