"""The generic door (Standard Webhooks) against real Postgres and the real broker."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from ingest_doors import SAMPLES_AHEAD_S
from standardwebhooks.webhooks import Webhook

from deal_ingest.bootstrap import MIGRATIONS, build_app
from deal_ingest.settings import IngestSettings
from provisio_common.auth import mint_token
from provisio_common.db import create_engine
from provisio_common.migrations import upgrade
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, serve
from provisio_common.webhooks import new_secret, signed_headers

DEAL: dict[str, object] = {
    "external_id": "D-7",
    "status": "won",
    "amount": "1250.00",
    "currency": "USD",
    "close_date": "2027-02-03",
    "changed_at": "2027-02-03T10:15:00Z",
    "owner": "generic:u-1",
    "splits": [],
    "lines": [{"product": "widget-pro", "amount": "1250.00"}],
    "type": "new",
}


@dataclass
class Ingest:
    url: str
    secret: str
    settings: IngestSettings


@pytest.fixture
async def ingest(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Ingest]:
    secret = new_secret()
    old_secret = new_secret()
    settings = IngestSettings(
        **{
            **base_settings.model_dump(),
            "database": await fresh_db("ingest"),
            "generic_webhook_secrets": [secret, old_secret],
            "changed_at_max_ahead_s": SAMPLES_AHEAD_S,
        }
    )
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    async with serve(build_app(settings)) as url:
        yield Ingest(url, secret, settings)


def body_of(data: dict[str, object]) -> bytes:
    return json.dumps({"type": "deal.snapshot", "data": data}).encode()


async def post(ingest: Ingest, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(
            f"{ingest.url}/webhooks/generic",
            content=body,
            headers={"content-type": "application/json", **headers},
        )


async def count_rows(ingest: Ingest, table: str) -> int:
    engine = create_engine(ingest.settings.database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())
    finally:
        await engine.dispose()


async def read_deals_topic(settings: ProvisioSettings, expect: int) -> list[dict[str, object]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic("deals.v1") or set()
        consumer.assign([TopicPartition("deals.v1", p) for p in parts])
        out: list[dict[str, object]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(out) < expect:
            for msgs in (await consumer.getmany(timeout_ms=200)).values():
                out += [json.loads(m.value) for m in msgs]
        return out
    finally:
        await consumer.stop()


def reference_headers(secret: str, msg_id: str, body: bytes) -> dict[str, str]:
    """Signed by the Standard Webhooks reference library, not by our own code."""
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


async def test_signed_delivery_is_stored_and_published_as_deals_v1(
    ingest: Ingest, base_settings: ProvisioSettings
) -> None:
    body = body_of(DEAL)
    r = await post(ingest, body, reference_headers(ingest.secret, "msg_1", body))
    assert r.status_code == 202, r.text
    assert r.json() == {
        "outcome": "new_revision",
        "delivery_id": "msg_1",
        "deal": "generic:D-7",
        "revision": 1,
    }
    [event] = await read_deals_topic(base_settings, 1)
    assert event["type"] == "deal.snapshot" and event["subject"] == "generic:D-7"
    data = event["data"]
    assert isinstance(data, dict)
    assert data["amount"] == "1250.00" and data["revision"] == 1 and data["source"] == "generic"
    # our signer agrees with the reference library
    moment = datetime.fromtimestamp(1_800_000_000, UTC)
    assert signed_headers(ingest.secret, "msg_1", body, 1_800_000_000)["webhook-signature"] == Webhook(
        ingest.secret
    ).sign("msg_1", moment, body.decode())


async def test_a_rotated_key_still_verifies(ingest: Ingest) -> None:
    body = body_of(DEAL)
    old = ingest.settings.generic_webhook_secrets[1]
    headers = reference_headers(old, "msg_rot", body)
    other = reference_headers(new_secret(), "msg_rot", body)["webhook-signature"]
    headers["webhook-signature"] = f"{other} {headers['webhook-signature']}"
    assert (await post(ingest, body, headers)).status_code == 202


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "missing"])
async def test_forged_or_stale_delivery_is_refused_and_leaves_no_row(ingest: Ingest, tamper: str) -> None:
    body = body_of(DEAL)
    secret = new_secret() if tamper == "secret" else ingest.secret
    headers = reference_headers(secret, "msg_x", body)
    if tamper == "body":
        body = body_of({**DEAL, "amount": "9999999.00"})
    if tamper == "stale":
        ts = int(time.time()) - 6 * 60
        headers = signed_headers(ingest.secret, "msg_x", body, ts)
    if tamper == "missing":
        del headers["webhook-signature"]
    r = await post(ingest, body, headers)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await count_rows(ingest, "deliveries") == 0
    assert await count_rows(ingest, "deal_snapshots") == 0
    assert await count_rows(ingest, "outbox") == 0


async def test_redelivery_is_acknowledged_and_adds_no_revision(ingest: Ingest) -> None:
    body = body_of(DEAL)
    assert (await post(ingest, body, reference_headers(ingest.secret, "msg_2", body))).status_code == 202
    again = await post(ingest, body, reference_headers(ingest.secret, "msg_2", body))
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert await count_rows(ingest, "deal_revisions") == 1
    assert await count_rows(ingest, "outbox") == 1


async def test_changes_make_revisions_and_a_late_change_joins_history_without_moving_the_deal_back(
    ingest: Ingest,
) -> None:
    admin = {"Authorization": f"Bearer {mint_token(ingest.settings, 'admin', 'admin')}"}
    updates = [
        ("m1", {**DEAL, "changed_at": "2027-02-03T10:00:00Z", "amount": "1000.00"}),
        ("m2", {**DEAL, "changed_at": "2027-02-04T10:00:00Z", "amount": "1500.00"}),
        ("m3", {**DEAL, "changed_at": "2027-02-03T12:00:00Z", "amount": "1100.00"}),  # late arrival
        ("m4", {**DEAL, "changed_at": "2027-02-05T10:00:00Z", "amount": "1500.00"}),  # no change
    ]
    outcomes = []
    for msg_id, data in updates:
        body = body_of(data)
        r = await post(ingest, body, signed_headers(ingest.secret, msg_id, body))
        outcomes.append(r.json()["outcome"])
    assert outcomes == ["new_revision", "new_revision", "new_revision", "unchanged"]
    async with httpx.AsyncClient() as client:
        deal = (await client.get(f"{ingest.url}/deals/generic/D-7", headers=admin)).json()
    # the late one is kept (and published) in its place in history; the last one repeats the
    # one before it in history: kept, not published, and current (it is the latest)
    assert deal["current"]["amount"] == "1500.00" and deal["current"]["revision"] == 4
    assert [r["snapshot"]["amount"] for r in deal["revisions"]] == [
        "1000.00",
        "1500.00",
        "1100.00",
        "1500.00",
    ]
    assert await count_rows(ingest, "deliveries") == 4  # every delivery kept verbatim
    assert await count_rows(ingest, "outbox") == 3


async def test_nul_characters_and_deep_nesting_are_422_naming_the_field_and_store_nothing(
    ingest: Ingest,
) -> None:
    nul = body_of({**DEAL, "external_id": "D-\u0000"})
    r = await post(ingest, nul, signed_headers(ingest.secret, "nul", nul))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data.external_id"
    deep = b'{"type": "deal.snapshot", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    r = await post(ingest, deep, signed_headers(ingest.secret, "deep", deep))
    assert r.status_code == 422
    assert await count_rows(ingest, "deliveries") == 0


async def test_oversized_body_is_413(ingest: Ingest) -> None:
    body = b"{" + b" " * (ingest.settings.max_body_bytes + 1) + b"}"
    r = await post(ingest, body, signed_headers(ingest.secret, "big", body))
    assert r.status_code == 413


def test_reference_secret_format_is_accepted() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
