"""quota-service over real HTTP for integration tests: migrate a fresh database, serve the app."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition

from provisio_common.auth import Role, mint_token
from provisio_common.db import create_engine
from provisio_common.events import Schema
from provisio_common.kafka import make_producer
from provisio_common.migrations import upgrade
from provisio_common.routes import outgoing
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, serve
from quota_service.bootstrap import MIGRATIONS, build_app
from quota_service.settings import QuotaSettings


@dataclass
class Quota:
    """A running quota-service: its base URL and settings."""

    url: str
    settings: QuotaSettings

    def headers(self, role: Role = "admin", sub: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, sub, role)}"}


@contextlib.asynccontextmanager
async def running_quota(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Quota]:
    """quota-service on a fresh, migrated database and the test's broker."""
    settings = QuotaSettings(**{**base_settings.model_dump(), "database": await fresh_db("quota")})
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    async with serve(build_app(settings)) as url:
        yield Quota(url, settings)


async def count_rows(quota: Quota, sql: str) -> int:
    """The one integer a SQL query on quota-service's database answers."""
    engine = create_engine(quota.settings.database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.text(sql))).scalar_one())
    finally:
        await engine.dispose()


async def read_topic(settings: ProvisioSettings, name: str, expect: int) -> list[dict[str, Any]]:
    """The envelopes on a topic from its start (waiting up to 10 s for `expect` of them)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        consumer.assign([TopicPartition(name, p) for p in consumer.partitions_for_topic(name) or ()])
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(out) < expect:
            for msgs in (await consumer.getmany(timeout_ms=200)).values():
                out += [json.loads(m.value) for m in msgs]
        return out
    finally:
        await consumer.stop()


async def produce(settings: ProvisioSettings, source: str, *records: Schema) -> None:
    """Send records to their topics as `source` would (each in its envelope, by its key)."""
    producer = make_producer(settings)
    await producer.start()
    try:
        for record in records:
            out = outgoing(record, source)
            await producer.send_and_wait(out.topic, out.envelope.to_bytes(), key=out.key.encode())
    finally:
        await producer.stop()
