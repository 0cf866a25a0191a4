"""Limits at every door, over real HTTP, Postgres and broker: what the pipeline could not
carry is a 422 problem naming the door's own field, and nothing is stored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ingest_doors import SF_ORG_ID, SF_OUTBOUND_SECRET, Doors

from deal_ingest.bootstrap import MIGRATIONS, build_app
from deal_ingest.settings import IngestSettings
from provisio_cli.send import signed_request
from provisio_common.migrations import upgrade
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, serve
from provisio_common.webhooks import new_secret

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
STORED = ("deliveries", "deal_snapshots", "deal_revisions", "activities", "crm_events", "outbox")
DEAL: dict[str, Any] = {
    "external_id": "L-1",
    "status": "won",
    "amount": "100.00",
    "currency": "USD",
    "owner": "generic:u-1",
    "changed_at": "2027-02-03T10:15:00Z",
}


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


async def post(doors: Doors, door: str, payload: Any, *, msg_id: str = "m-1") -> httpx.Response:
    s = doors.settings
    secret = {
        "generic": s.generic_webhook_secrets[:1],
        "hubspot": s.hubspot_client_secrets[:1],
        "pipedrive": s.pipedrive_basic_auth[:1],
        "salesforce": s.salesforce_webhook_secrets[:1],
        "salesforce-outbound": [f"{SF_ORG_ID}:{SF_OUTBOUND_SECRET}"],
    }[door][0]
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    url, body, headers = signed_request(door, doors.url, secret, body, msg_id=msg_id)
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(url, content=body, headers=headers)


async def assert_refused(doors: Doors, response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field], response.text
    for table in STORED:
        assert await doors.count(table) == 0, table


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("data.external_id", {"external_id": "x" * 20_000}),
        ("data.amount", {"amount": "9" * 401}),
        ("data.amount", {"amount": "0." + "0" * 19_999 + "1"}),
        ("data.amount", {"amount": "0.0000001"}),
        ("data.amount", {"amount": 1250}),
        ("data.amount", {"amount": "-5.00"}),
        ("data.close_date", {"close_date": "0001-01-01"}),
        ("data.close_date", {"close_date": "9999-12-31"}),
        ("data.changed_at", {"changed_at": "9999-12-31T00:00:00Z"}),
        ("data.changed_at", {"changed_at": "9999-12-31T00:00:00"}),  # no offset: UTC, still too far
        ("data.lines", {"lines": [{"product": "p", "amount": "1"}] * 101}),
    ],
)
async def test_generic_door(doors: Doors, field: str, changes: dict[str, Any]) -> None:
    r = await post(doors, "generic", {"type": "deal.snapshot", "data": {**DEAL, **changes}})
    await assert_refused(doors, r, field)


async def test_a_changed_at_without_offset_is_utc_also_on_an_existing_deal(doors: Doors) -> None:
    deal = {**DEAL, "external_id": "L-naive"}
    first = await post(doors, "generic", {"type": "deal.snapshot", "data": deal}, msg_id="n-1")
    assert first.status_code == 202, first.text
    later = {**deal, "amount": "120.00", "changed_at": "2027-02-03T11:00:00"}  # PLANS.md rule 1
    second = await post(doors, "generic", {"type": "deal.snapshot", "data": later}, msg_id="n-2")
    assert second.status_code == 202 and second.json()["outcome"] == "new_revision", second.text
    older = {**deal, "amount": "90.00", "changed_at": "2027-02-03T09:00:00"}
    third = await post(doors, "generic", {"type": "deal.snapshot", "data": older}, msg_id="n-3")
    assert third.status_code == 202, third.text
    current = (await doors.get("/deals/generic/L-naive")).json()["current"]
    assert current["amount"] == "120.00"
    assert datetime.fromisoformat(current["changed_at"]) == datetime(2027, 2, 3, 11, tzinfo=UTC)


async def test_an_external_id_with_slashes_is_stored_and_fetchable(doors: Doors) -> None:
    deal = {**DEAL, "external_id": "ACME/2027/001"}
    assert (await post(doors, "generic", {"type": "deal.snapshot", "data": deal})).status_code == 202
    r = await doors.get("/deals/generic/ACME/2027/001")
    assert r.status_code == 200 and r.json()["deal"] == "generic:ACME/2027/001"
    assert (await doors.get("/deals/generic/ACME%2F2027%2F001")).json()["deal"] == "generic:ACME/2027/001"


async def test_a_webhook_id_over_the_btree_limit_is_refused_naming_the_header(doors: Doors) -> None:
    r = await post(doors, "generic", {"type": "deal.snapshot", "data": DEAL}, msg_id="w" * 6000)
    await assert_refused(doors, r, "webhook-id")


async def test_pipedrive_door(doors: Doors) -> None:
    payload = sample("pipedrive_deal_won.json")
    payload["data"]["value"] = 10**400  # a JSON number, read exactly: 401 digits
    await assert_refused(doors, await post(doors, "pipedrive", payload), "data.value")
    payload = sample("pipedrive_deal_won.json")
    payload["meta"]["id"] = "m" * 300
    await assert_refused(doors, await post(doors, "pipedrive", payload), "meta.id")


async def test_salesforce_callout_door(doors: Doors) -> None:
    payload = sample("salesforce_callout.json")
    payload["opportunity"]["Amount"] = "-24000.00"
    await assert_refused(doors, await post(doors, "salesforce", payload), "opportunity.Amount")
    payload = sample("salesforce_callout.json")
    payload["lineItems"] = [payload["lineItems"][0]] * 101
    await assert_refused(doors, await post(doors, "salesforce", payload), "lineItems")
    payload = sample("salesforce_callout.json")
    payload["splits"][0]["SplitOwnerId"] = "0" * 250
    await assert_refused(doors, await post(doors, "salesforce", payload), "splits[0].SplitOwnerId")


async def test_salesforce_outbound_door(doors: Doors) -> None:
    xml = (SAMPLES / "salesforce_outbound.xml").read_bytes()
    too_long = xml.replace(b"<Id>04l", b"<Id>" + b"9" * 300 + b"04l", 1)
    assert too_long != xml
    r = await post(doors, "salesforce-outbound", too_long)
    await assert_refused(doors, r, "notifications.Notification[0].Id")
    far = xml.replace(b"<sf:CloseDate>", b"<sf:CloseDate>9", 1)
    assert far != xml
    r = await post(doors, "salesforce-outbound", far)
    assert r.status_code == 422 and "CloseDate" in r.json()["errors"][0]["field"], r.text


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("[0].occurredAt", {"occurredAt": 253402300800000}),  # year 10000
        ("[0].propertyValue", {"propertyValue": "v" * 4001}),
        ("[0].propertyValue", {"propertyName": "amount", "propertyValue": "1" * 13}),
        ("[0].eventId", {"eventId": "e" * 201}),
    ],
)
async def test_hubspot_door(doors: Doors, field: str, change: dict[str, Any]) -> None:
    event = {**sample("hubspot_batch.json")[1], "propertyName": "description", **change}
    await assert_refused(doors, await post(doors, "hubspot", [event]), field)


@pytest.fixture
async def default_doors(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Doors]:
    """A deal-ingest with the default tolerance: `changed_at` at most one day ahead."""
    settings = IngestSettings(
        **{
            **base_settings.model_dump(),
            "database": await fresh_db("ingest"),
            "generic_webhook_secrets": [new_secret()],
        }
    )
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    async with serve(build_app(settings)) as url:
        yield Doors(url, settings)


async def test_a_changed_at_more_than_a_day_ahead_is_refused_within_a_day_accepted(
    default_doors: Doors,
) -> None:
    now = datetime.now(UTC)
    ahead = {**DEAL, "changed_at": (now + timedelta(days=2)).isoformat()}
    r = await post(default_doors, "generic", {"type": "deal.snapshot", "data": ahead})
    await assert_refused(default_doors, r, "data.changed_at")
    near = {**DEAL, "changed_at": (now + timedelta(hours=1)).isoformat()}
    r = await post(default_doors, "generic", {"type": "deal.snapshot", "data": near}, msg_id="m-2")
    assert r.status_code == 202, r.text
