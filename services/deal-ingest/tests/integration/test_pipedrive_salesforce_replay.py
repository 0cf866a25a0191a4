"""Pipedrive and Salesforce doors, the raw log, and replay, over real HTTP, Postgres and broker."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ingest_doors import SF_ORG_ID, SF_OUTBOUND_SECRET, Doors
from standardwebhooks.webhooks import Webhook

from deal_ingest.adapters.crm.salesforce import ACK
from provisio_common.webhooks import new_secret, signed_headers

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
TABLES = ("deliveries", "deal_snapshots", "deal_revisions", "activities", "crm_events", "outbox")


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def basic(pair: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
    }


def pipedrive_body(meta_id: str, status: str, update_time: str) -> bytes:
    payload: dict[str, Any] = json.loads(sample("pipedrive_deal_won.json"))
    payload["meta"]["id"] = meta_id
    payload["data"].update(status=status, update_time=update_time)
    return json.dumps(payload).encode()


def reference_headers(secret: str, msg_id: str, body: bytes) -> dict[str, str]:
    """Signed by the Standard Webhooks reference library."""
    now = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body.decode()),
    }


async def assert_nothing_stored(doors: Doors) -> None:
    for table in TABLES:
        assert await doors.count(table) == 0, table


async def test_pipedrive_won_lost_won_is_three_revisions_ending_won(doors: Doors) -> None:
    auth = basic("provisio:pd-pass-1")
    steps = [("m-1", "won", "2027-02-03T10:15:00Z"), ("m-2", "lost", "2027-02-04T10:00:00Z"),
             ("m-3", "won", "2027-02-05T10:00:00Z")]  # fmt: skip
    for meta_id, status, at in steps:
        r = await doors.post("/webhooks/pipedrive", pipedrive_body(meta_id, status, at), auth)
        assert r.status_code == 200 and r.json()["outcome"] == "new_revision", r.text
    again = await doors.post("/webhooks/pipedrive", pipedrive_body("m-3", "won", steps[2][2]), auth)
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    published = await doors.read_topic("deals.v1", 3)
    assert [(e["data"]["revision"], e["data"]["status"]) for e in published] == [
        (1, "won"),
        (2, "lost"),
        (3, "won"),
    ]
    last = published[-1]["data"]
    assert (
        last["amount"] == "1250.5" and last["owner"] == "pipedrive:42" and last["close_date"] == "2027-02-03"
    )
    assert await doors.count("deal_revisions") == 3


async def test_pipedrive_done_activity_is_published_on_activities_v1(doors: Doors) -> None:
    r = await doors.post(
        "/webhooks/pipedrive", sample("pipedrive_activity.json"), basic("provisio:pd-pass-old")
    )
    assert r.status_code == 200 and r.json()["outcome"] == "new_activity", r.text
    [event] = await doors.read_topic("activities.v1", 1)
    assert event["data"] == {
        "source": "pipedrive",
        "external_id": "9120",
        "kind": "call",
        "owner": "pipedrive:42",
        "occurred_at": "2027-02-03T11:00:00Z",
        "deal": "4711",
    }


@pytest.mark.parametrize("auth", [None, "provisio:wrong", "someone:pd-pass-1"])
async def test_pipedrive_without_the_right_credentials_is_refused_and_leaves_no_row(
    doors: Doors, auth: str | None
) -> None:
    headers = basic(auth) if auth else {"content-type": "application/json"}
    r = await doors.post("/webhooks/pipedrive", sample("pipedrive_deal_won.json"), headers)
    assert r.status_code == 401
    await assert_nothing_stored(doors)


async def test_salesforce_callout_signed_by_the_reference_library_is_a_snapshot_with_lines_and_splits(
    doors: Doors,
) -> None:
    body = sample("salesforce_callout.json")
    secret = doors.settings.salesforce_webhook_secrets[1]  # the older of two active secrets
    r = await doors.post("/webhooks/salesforce", body, reference_headers(secret, "sf-1", body))
    assert r.status_code == 202 and r.json()["deal"] == "salesforce:0065g00000AbCdEAAZ", r.text
    again = await doors.post("/webhooks/salesforce", body, reference_headers(secret, "sf-1", body))
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    [event] = await doors.read_topic("deals.v1", 1)
    data = event["data"]
    assert (data["status"], data["amount"], data["currency"], data["type"]) == (
        "won",
        "24000.00",
        "USD",
        "new",
    )
    assert data["lines"] == [{"product": "SEAT-PRO", "amount": "20000.00", "margin": None},
                             {"product": "ONBOARD", "amount": "4000.00", "margin": None}]  # fmt: skip
    assert data["splits"] == [{"payee": "salesforce:0055g00000XyZ12AAB", "share": "0.6"},
                              {"payee": "salesforce:0055g00000AbC34AAB", "share": "0.4"}]  # fmt: skip
    assert await doors.count("deal_revisions") == 1


@pytest.mark.parametrize("tamper", ["body", "secret", "stale"])
async def test_salesforce_callout_forged_or_stale_is_refused_and_leaves_no_row(
    doors: Doors, tamper: str
) -> None:
    body = sample("salesforce_callout.json")
    secret = new_secret() if tamper == "secret" else doors.settings.salesforce_webhook_secrets[0]
    headers = reference_headers(secret, "sf-x", body)
    if tamper == "stale":
        headers.update(signed_headers(secret, "sf-x", body, int(time.time()) - 6 * 60))
    if tamper == "body":
        body = body.replace(b"24000.00", b"94000.00")
    assert (await doors.post("/webhooks/salesforce", body, headers)).status_code == 401
    await assert_nothing_stored(doors)


SOAP = {
    "content-type": "text/xml; charset=utf-8",
    "SOAPAction": '""',
    "authorization": basic(f"{SF_ORG_ID}:{SF_OUTBOUND_SECRET}")["authorization"],
}


async def test_salesforce_outbound_message_from_a_known_org_is_acknowledged_and_published(
    doors: Doors,
) -> None:
    r = await doors.post("/webhooks/salesforce/outbound", sample("salesforce_outbound.xml"), SOAP)
    assert r.status_code == 200 and r.text == ACK
    assert r.headers["content-type"].startswith("text/xml")
    assert r.text == (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/'
        'envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true'
        "</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"
    )
    # Salesforce retries until acknowledged: a redelivery is acknowledged and changes nothing
    again = await doors.post("/webhooks/salesforce/outbound", sample("salesforce_outbound.xml"), SOAP)
    assert again.status_code == 200 and again.text == ACK
    [event] = await doors.read_topic("deals.v1", 1)
    data = event["data"]
    assert (data["external_id"], data["status"], data["amount"], data["type"]) == (
        "0065g00000OuTbDAAZ", "won", "18500.0", "upsell")  # fmt: skip
    assert await doors.count("deal_revisions") == 1


async def test_salesforce_outbound_message_from_an_unknown_org_is_refused_and_leaves_no_row(
    doors: Doors,
) -> None:
    body = sample("salesforce_outbound.xml").replace(b"00D5g000004AbCdEAK", b"00D9z000001ZzZzEAK")
    r = await doors.post("/webhooks/salesforce/outbound", body, SOAP)
    assert r.status_code == 401
    await assert_nothing_stored(doors)
    metrics = (await doors.get("/metrics")).text
    assert 'provisio_ingest_refusals_total{reason="unknown_org",source="salesforce"}' in metrics


async def test_replay_republishes_exactly_the_chosen_snapshots(doors: Doors) -> None:
    auth = basic("provisio:pd-pass-1")
    assert (await doors.post("/webhooks/pipedrive", pipedrive_body("early", "won", "2027-02-01T00:00:00Z"),
                             auth)).status_code == 200  # fmt: skip
    await asyncio.sleep(0.3)
    since = datetime.now(UTC)
    for n, meta_id in enumerate(["a", "b"]):
        payload = json.loads(pipedrive_body(meta_id, "won", "2027-02-02T00:00:00Z"))
        payload["data"]["id"] = 5000 + n
        r = await doors.post("/webhooks/pipedrive", json.dumps(payload).encode(), auth)
        assert r.status_code == 200
    body = sample("salesforce_callout.json")
    secret = doors.settings.salesforce_webhook_secrets[0]
    assert (
        await doors.post("/webhooks/salesforce", body, reference_headers(secret, "sf-r", body))
    ).status_code == 202
    await asyncio.sleep(0.3)
    until = datetime.now(UTC)
    assert len(await doors.read_topic("deals.v1", 4)) == 4
    window = {"source": "pipedrive", "since": since.isoformat(), "until": until.isoformat()}
    refused = await doors.admin_post("/admin/replay", window, role="ops")
    assert refused.status_code == 403
    r = await doors.admin_post("/admin/replay", window)
    assert r.status_code == 200 and r.json() == {
        "republished": 2,
        "deals": ["pipedrive:5000", "pipedrive:5001"],
    }
    published = await doors.read_topic("deals.v1", 6)
    assert len(published) == 6
    subjects = [e["subject"] for e in published]
    assert subjects.count("pipedrive:5000") == 2
    assert subjects.count("pipedrive:5001") == 2
    assert subjects.count("pipedrive:4711") == 1
    assert subjects.count("salesforce:0065g00000AbCdEAAZ") == 1
    assert await doors.count("audit_log") == 1


async def test_deliveries_log_is_for_admin_and_ops_and_keeps_bodies_verbatim(doors: Doors) -> None:
    body = sample("pipedrive_deal_won.json")
    assert (await doors.post("/webhooks/pipedrive", body, basic("provisio:pd-pass-1"))).status_code == 200
    log = await doors.get("/deliveries", role="ops", source="pipedrive")
    assert log.status_code == 200
    [row] = log.json()["deliveries"]
    assert row["body"] == body.decode() and row["outcome"] == "new_revision"
    assert row["headers"]["basic-auth-user"] == "provisio" and "authorization" not in row["headers"]
    assert (await doors.get("/deliveries", role="rep")).status_code == 403
