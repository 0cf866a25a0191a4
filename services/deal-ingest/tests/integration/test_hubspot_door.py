"""The HubSpot door: signature v3, batches merged into snapshots, out of order and twice."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ingest_doors import Doors

from deal_ingest.bootstrap import build_app
from provisio_common.testing.plugin import serve

SECRET = "hs-client-secret-new"
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


# HubSpot's documentation, "Validate requests, signature v3": decode these escapes in the URI,
# concatenate method + URI + body + timestamp, HMAC-SHA256 with the client secret, base64.
DOCUMENTED_ESCAPES = [
    ("%3A", ":"), ("%2F", "/"), ("%3F", "?"), ("%40", "@"), ("%21", "!"), ("%24", "$"),
    ("%27", "'"), ("%28", "("), ("%29", ")"), ("%2A", "*"), ("%2C", ","), ("%3B", ";"),
]  # fmt: skip


def documented_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """Written straight from HubSpot's documentation, independent of deal_ingest's code."""
    for encoded, decoded in DOCUMENTED_ESCAPES:
        uri = uri.replace(encoded, decoded).replace(encoded.lower(), decoded)
    source = (method + uri + body.decode("utf-8") + timestamp).encode("utf-8")
    return base64.b64encode(hmac.new(secret.encode("utf-8"), source, hashlib.sha256).digest()).decode()


def hubspot_headers(uri: str, body: bytes, *, secret: str = SECRET, age_ms: int = 0) -> dict[str, str]:
    timestamp = str(int(time.time() * 1000) - age_ms)
    return {
        "content-type": "application/json",
        "X-HubSpot-Request-Timestamp": timestamp,
        "X-HubSpot-Signature-v3": documented_signature(secret, "POST", uri, body, timestamp),
    }


async def deliver(doors: Doors, events: list[dict[str, Any]] | bytes, **kw: Any) -> Any:
    body = events if isinstance(events, bytes) else json.dumps(events).encode()
    uri = f"{doors.url}/webhooks/hubspot"
    return await doors.post("/webhooks/hubspot", body, hubspot_headers(uri, body, **kw))


def change(deal: int, event: int, at: int, name: str, value: str) -> dict[str, Any]:
    return {
        "eventId": event,
        "subscriptionId": 2211,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": at,
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": deal,
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM_UI",
    }


async def test_sample_batch_becomes_one_deals_v1_snapshot(doors: Doors) -> None:
    r = await deliver(doors, sample("hubspot_batch.json"))
    assert r.status_code == 200, r.text
    assert r.json()["deals"] == [{"deal": "hubspot:18231", "outcome": "new_revision", "revision": 1}]
    [event] = await doors.read_topic("deals.v1", 1)
    data = event["data"]
    assert event["subject"] == "hubspot:18231"
    assert data["status"] == "won" and data["amount"] == "1250.00" and data["currency"] == "EUR"
    assert data["owner"] == "hubspot:52841" and data["type"] == "new" and data["revision"] == 1
    assert data["close_date"] == datetime.fromtimestamp(1803600000, UTC).date().isoformat()
    assert data["changed_at"] == datetime.fromtimestamp(1801000003, UTC).isoformat().replace("+00:00", "Z")


async def test_an_old_client_secret_still_verifies_during_rotation(doors: Doors) -> None:
    r = await deliver(doors, sample("hubspot_batch.json"), secret="hs-client-secret-old")
    assert r.status_code == 200


async def test_escaped_query_and_configured_public_url_are_signed_as_hubspot_documents(doors: Doors) -> None:
    body = sample("hubspot_batch.json")
    uri = f"{doors.url}/webhooks/hubspot?portal=62515%3Aeu%2C1&name=a%20b"
    path = uri.removeprefix(doors.url)
    assert (await doors.post(path, body, hubspot_headers(uri, body))).status_code == 200
    # behind a proxy: HubSpot signs the public URL it called, not the one this process sees
    public = "https://hooks.example.com/crm/hubspot%21?tenant=acme%40eu"
    settings = doors.settings.model_copy(update={"hubspot_public_url": public})
    async with serve(build_app(settings)) as url:
        behind_proxy = Doors(url, settings)
        other = body.replace(b'"attemptNumber": 0', b'"attemptNumber": 1')
        ok = await behind_proxy.post("/webhooks/hubspot", other, hubspot_headers(public, other))
        assert ok.status_code == 200, ok.text
        as_seen = f"{url}/webhooks/hubspot"
        refused = await behind_proxy.post("/webhooks/hubspot", other, hubspot_headers(as_seen, other))
        assert refused.status_code == 401


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "missing"])
async def test_forged_or_stale_batch_is_refused_and_leaves_no_row(doors: Doors, tamper: str) -> None:
    body = sample("hubspot_batch.json")
    uri = f"{doors.url}/webhooks/hubspot"
    headers = hubspot_headers(
        uri,
        body,
        secret="not-the-secret" if tamper == "secret" else SECRET,
        age_ms=6 * 60_000 * (tamper == "stale"),
    )
    if tamper == "body":
        body = body.replace(b"1250.00", b"9250.00")
    if tamper == "missing":
        del headers["X-HubSpot-Signature-v3"]
    r = await doors.post("/webhooks/hubspot", body, headers)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    for table in ("deliveries", "crm_events", "crm_deal_state", "deal_snapshots", "outbox"):
        assert await doors.count(table) == 0, table
    metrics = (await doors.get("/metrics")).text
    reason = {"body": "bad_signature", "secret": "bad_signature", "stale": "stale_timestamp"}.get(
        tamper, "missing_headers"
    )
    assert f'provisio_ingest_refusals_total{{reason="{reason}",source="hubspot"}}' in metrics


async def test_redelivered_batch_and_retried_events_are_acknowledged_and_change_nothing(doors: Doors) -> None:
    body = sample("hubspot_batch.json")
    assert (await deliver(doors, body)).status_code == 200
    again = await deliver(doors, body)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    # HubSpot's retry bumps attemptNumber: a different body, the same events
    retry = await deliver(doors, body.replace(b'"attemptNumber": 0', b'"attemptNumber": 1'))
    assert retry.status_code == 200 and retry.json()["outcome"] == "duplicate"
    assert retry.json()["events"] == {"duplicate": 7}
    assert await doors.count("deal_revisions") == 1 and await doors.count("outbox") == 1
    assert await doors.count("deliveries") == 2  # the retry is kept verbatim, the identical body is not


async def test_batch_across_two_deals_out_of_order_and_twice_yields_the_right_snapshots(doors: Doors) -> None:
    t = 1_801_000_000_000
    a, b = 501, 502
    first = [
        change(a, 1, t, "amount", "100"),
        change(a, 2, t, "hubspot_owner_id", "7"),
        change(b, 3, t, "amount", "300"),
        change(b, 4, t, "hubspot_owner_id", "8"),
        change(b, 5, t, "deal_currency_code", "GBP"),
    ]
    later = [
        change(a, 6, t + 5000, "amount", "150"),
        change(a, 7, t + 9000, "dealstage", "closedwon"),
        change(b, 8, t + 7000, "dealstage", "closedlost"),
        change(b, 9, t + 8000, "amount", "350"),
    ]
    stale = [
        change(a, 10, t + 2000, "amount", "120"),
        change(b, 11, t + 1000, "dealstage", "appointmentscheduled"),
    ]
    # the later changes arrive first, in reverse, then the first batch shuffled with a stale one
    r1 = await deliver(doors, list(reversed(later)))
    r2 = await deliver(doors, [first[3], stale[0], first[0], first[4], stale[1], first[2], first[1]])
    # and everything once more, as HubSpot sometimes does
    r3 = await deliver(doors, first + later + stale)
    assert [r.status_code for r in (r1, r2, r3)] == [200, 200, 200]
    assert r1.json()["deals"] == [
        {"deal": "hubspot:501", "outcome": "incomplete", "revision": None},
        {"deal": "hubspot:502", "outcome": "incomplete", "revision": None},
    ]
    # the first amounts are older than the later ones already merged: only owners and currency
    # become current; the older changes are kept in history, each deal's state as of them stored
    assert r2.json()["events"] == {"applied": 3, "older_than_stored": 4}
    assert r3.json()["events"] == {"duplicate": 11}
    deal_a = (await doors.get("/deals/hubspot/501")).json()
    deal_b = (await doors.get("/deals/hubspot/502")).json()
    assert (deal_a["current"]["amount"], deal_a["current"]["status"], deal_a["current"]["owner"]) == (
        "150",
        "won",
        "hubspot:7",
    )
    assert (deal_b["current"]["amount"], deal_b["current"]["status"], deal_b["current"]["currency"]) == (
        "350",
        "lost",
        "GBP",
    )
    # history by when changes happened: a was open at 100 (t), open at 120 (t+2s), won at 150;
    # b open at 300 (t), lost at 350
    history_a = [
        (r["snapshot"]["changed_at"], r["snapshot"]["status"], r["snapshot"]["amount"])
        for r in deal_a["revisions"]
    ]
    assert [(status, amount) for _, status, amount in sorted(history_a)] == [
        ("open", "100"),
        ("open", "120"),
        ("won", "150"),
    ]
    history_b = sorted(
        (r["snapshot"]["changed_at"], r["snapshot"]["status"], r["snapshot"]["amount"])
        for r in deal_b["revisions"]
    )
    assert [(status, amount) for _, status, amount in history_b] == [
        ("open", "300"),
        ("open", "300"),  # the stage set at t+1s reads as open: kept, not published
        ("lost", "350"),
    ]
    # one more change later: the next revision, built on the merged state
    r4 = await deliver(doors, [change(a, 12, t + 20000, "amount", "175")])
    assert r4.json()["deals"] == [{"deal": "hubspot:501", "outcome": "new_revision", "revision": 4}]
    published = await doors.read_topic("deals.v1", 6)
    assert sorted((e["subject"], e["data"]["revision"], e["data"]["amount"]) for e in published) == [
        ("hubspot:501", 1, "100"),
        ("hubspot:501", 2, "120"),
        ("hubspot:501", 3, "150"),
        ("hubspot:501", 4, "175"),
        ("hubspot:502", 1, "300"),
        ("hubspot:502", 3, "350"),
    ]


async def test_malformed_event_is_422_naming_the_field_and_stores_nothing(doors: Doors) -> None:
    events = json.loads(sample("hubspot_batch.json"))
    del events[2]["occurredAt"]
    r = await deliver(doors, events)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "[2].occurredAt"
    bad_amount = [change(9, 1, 1_801_000_000_000, "amount", "lots")]
    r = await deliver(doors, bad_amount)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "[0].propertyValue"
    assert await doors.count("deliveries") == 0 and await doors.count("crm_events") == 0


async def test_oversized_batch_is_413(doors: Doors) -> None:
    body = b"[" + b" " * doors.settings.max_body_bytes + b"]"
    assert (await deliver(doors, body)).status_code == 413
