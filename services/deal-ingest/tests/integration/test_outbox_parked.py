"""An outbox row too large to publish, on real Postgres and a real broker, in a running
deal-ingest: it is parked with its error and the rows of its key wait behind it, other
deals flow, `GET /outbox/parked` lists them (admin, ops), the gauge counts them, and a
release hands them back to the relay (audited)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ingest_doors import SAMPLES_AHEAD_S, Doors

from deal_ingest.adapters.tables import shared
from deal_ingest.bootstrap import MIGRATIONS, build_app
from deal_ingest.settings import IngestSettings
from provisio_common.db import create_engine
from provisio_common.events import Envelope
from provisio_common.migrations import upgrade
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import eventually, serve
from provisio_common.webhooks import new_secret, signed_headers

LIMIT = 64 * 1024


@pytest.fixture
async def small_limit_doors(fresh_db: Any, base_settings: ProvisioSettings) -> AsyncIterator[Doors]:
    settings = IngestSettings(
        **{
            **base_settings.model_dump(),
            "database": await fresh_db("ingest"),
            "generic_webhook_secrets": [new_secret()],
            "kafka_max_message_bytes": LIMIT,
            "changed_at_max_ahead_s": SAMPLES_AHEAD_S,
        }
    )
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    async with serve(build_app(settings)) as url:
        yield Doors(url, settings)


async def queue(doors: Doors, key: str, pad: int) -> int:
    """An outbox row written behind the doors' back (a payload the door would refuse)."""
    env = Envelope(type="deal.snapshot", source="deal-ingest", subject=key, data={"pad": "x" * pad})
    engine = create_engine(doors.settings.database_url)
    try:
        async with engine.begin() as conn:
            row = shared.outbox.insert().values(
                event_id=env.id, topic="deals.v1", key=key, payload=env.to_bytes()
            )
            return int((await conn.execute(row.returning(shared.outbox.c.id))).scalar_one())
    finally:
        await engine.dispose()


async def send_deal(doors: Doors, external_id: str) -> None:
    deal = {"external_id": external_id, "status": "won", "amount": "10.00", "currency": "USD",
            "owner": "generic:u-1", "changed_at": "2027-02-03T10:15:00Z"}  # fmt: skip
    body = json.dumps({"type": "deal.snapshot", "data": deal}).encode()
    secret = doors.settings.generic_webhook_secrets[0]
    headers = {"content-type": "application/json", **signed_headers(secret, f"d-{external_id}", body)}
    assert (await doors.post("/webhooks/generic", body, headers)).status_code == 202


async def test_a_poison_row_is_parked_listed_counted_and_does_not_stop_other_deals(
    small_limit_doors: Doors,
) -> None:
    doors = small_limit_doors
    big = await queue(doors, "generic:POISON", LIMIT)
    behind = await queue(doors, "generic:POISON", 10)
    await send_deal(doors, "D-after")

    async def parked_listed() -> bool:
        r = await doors.get("/outbox/parked", role="ops")
        return r.status_code == 200 and [row["id"] for row in r.json()] == [big, behind]

    await eventually(parked_listed)
    rows = (await doors.get("/outbox/parked")).json()
    assert rows[0]["park_error"].startswith("MessageSizeTooLargeError") and rows[0]["size"] > LIMIT
    assert rows[1]["park_error"] == f"held behind parked outbox row {big} of the same key"
    [event] = await doors.read_topic("deals.v1", 1)
    assert event["data"]["external_id"] == "D-after"

    async def gauge_counts_them() -> bool:
        metrics = (await doors.get("/metrics")).text
        return 'provisio_outbox_parked_rows{service="deal-ingest"} 2.0' in metrics

    await eventually(gauge_counts_them)
    assert (await doors.get("/outbox/parked", role="rep")).status_code == 403
    assert (await doors.admin_post(f"/outbox/parked/{big}/release", {}, role="ops")).status_code == 403

    released = await doors.admin_post(f"/outbox/parked/{big}/release", {})
    assert released.status_code == 200 and released.json() == {"released": [big, behind]}
    assert await doors.count("audit_log WHERE action = 'outbox.release'") == 1
    # Still too large: the relay parks it again (and its key behind it).
    await eventually(parked_listed)
    assert (await doors.admin_post(f"/outbox/parked/{10**6}/release", {})).status_code == 404
