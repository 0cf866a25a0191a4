"""Test helpers: a running deal-ingest's doors over real HTTP, its database, its topics."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition

from deal_ingest.settings import IngestSettings
from provisio_common.auth import Role, mint_token
from provisio_common.db import create_engine

# The samples and fixtures are dated 2027: the doors under test accept a `changed_at` up
# to ten years after receipt (test_limits.py checks the default, one day).
SAMPLES_AHEAD_S = 10 * 365 * 24 * 3600
SF_ORG_ID = "00D5g000004AbCdEAK"
SF_OTHER_ORG_ID = "00D000000000001"
SF_OUTBOUND_SECRET = "sf-outbound-pass"


@dataclass
class Doors:
    url: str
    settings: IngestSettings

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(f"{self.url}{path}", content=body, headers=headers)

    async def get(self, path: str, role: Role = "admin", **params: Any) -> httpx.Response:
        token = mint_token(self.settings, role, role)
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.get(
                f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {token}"}
            )

    async def admin_post(self, path: str, payload: dict[str, Any], role: Role = "admin") -> httpx.Response:
        token = mint_token(self.settings, role, role)
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(
                f"{self.url}{path}", json=payload, headers={"Authorization": f"Bearer {token}"}
            )

    async def scalar(self, sql: str) -> Any:
        engine = create_engine(self.settings.database_url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(sa.text(sql))).scalar_one()
        finally:
            await engine.dispose()

    async def count(self, table: str) -> int:
        return int(await self.scalar(f"SELECT count(*) FROM {table}"))

    async def read_topic(self, topic: str, expect: int, wait_s: float = 10) -> list[dict[str, Any]]:
        """Every message on `topic` (at least `expect`, or whatever came within `wait_s`)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
            consumer.assign([TopicPartition(topic, p) for p in parts])
            out: list[dict[str, Any]] = []
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and len(out) < expect:
                for msgs in (await consumer.getmany(timeout_ms=200)).values():
                    out += [json.loads(m.value) for m in msgs]
            return out
        finally:
            await consumer.stop()
