"""While deal-ingest's database is down, a CRM's delivery is answered 503 with
`Retry-After` (a problem document, nothing half-written), so the CRM retries; once the
database is back the same delivery is accepted. The session's real Postgres is stopped
and started by its own pg_ctl."""

from __future__ import annotations

import asyncio
import json

from ingest_doors import Doors

from provisio_common.embedded import EmbeddedPostgres
from provisio_common.webhooks import signed_headers

DEAL = {"external_id": "DOWN-1", "status": "won", "amount": "10.00", "currency": "USD",
        "owner": "generic:u-1", "changed_at": "2027-02-03T10:15:00Z"}  # fmt: skip


async def test_a_delivery_while_the_database_is_down_is_503_with_retry_after_then_accepted(
    doors: Doors, embedded_pg: EmbeddedPostgres
) -> None:
    body = json.dumps({"type": "deal.snapshot", "data": DEAL}).encode()
    secret = doors.settings.generic_webhook_secrets[0]
    await asyncio.to_thread(embedded_pg.stop)
    try:
        headers = {"content-type": "application/json", **signed_headers(secret, "down-1", body)}
        r = await doors.post("/webhooks/generic", body, headers)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["status"] == 503
        assert (await doors.get("/readyz")).status_code == 503
    finally:
        await asyncio.to_thread(embedded_pg.start)
    # The CRM retries the same delivery (same webhook-id): now it is stored, once.
    headers = {"content-type": "application/json", **signed_headers(secret, "down-1", body)}
    r = await doors.post("/webhooks/generic", body, headers)
    assert r.status_code == 202, r.text
    assert await doors.count("deal_revisions") == 1
