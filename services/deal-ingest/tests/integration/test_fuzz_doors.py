"""Arbitrary bytes and arbitrary JSON, correctly signed, to every door: never a 5xx, never a
partial row (a delivery left `received`, a snapshot without its revision or outbox row)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_doors import Doors

from provisio_cli.send import signed_request

# Hypothesis draws in a worker thread while the service runs on the event loop; anything the
# service (aiokafka's jitter, ids) takes from `random` meanwhile makes hypothesis warn that
# `random` was used inside a strategy. Our strategies do not use it.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.decimals(allow_nan=False, places=2),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
hubspot_like = st.lists(
    st.fixed_dictionaries(
        {
            "eventId": st.integers(1, 5),
            "subscriptionId": st.integers(1, 2),
            "objectId": st.integers(1, 3),
            "occurredAt": st.integers(1, 3) | st.text(max_size=3),
            "subscriptionType": st.sampled_from(
                ["deal.propertyChange", "deal.creation", "deal.deletion", "x"]
            ),
            "propertyName": st.sampled_from(
                ["amount", "hubspot_owner_id", "dealstage", "closedate", "other"]
            ),
            "propertyValue": st.text(max_size=8) | st.sampled_from(["10", "7", "closedwon", "1800000000000"]),
        }
    ),
    max_size=5,
)
pipedrive_like = st.fixed_dictionaries(
    {
        "meta": st.fixed_dictionaries(
            {
                "id": st.text(min_size=1, max_size=6),
                "action": st.sampled_from(["change", "delete", "create"]),
                "entity": st.sampled_from(["deal", "activity", "person"]),
                "version": st.just("2.0"),
            }
        ),
        "data": st.dictionaries(
            st.sampled_from(
                ["id", "status", "value", "currency", "owner_id", "update_time", "type", "due_date"]
            ),
            json_values | st.sampled_from(["won", "USD", "call", "2027-02-03"]),
        ),
        "previous": json_values,
    }
)
DOORS: dict[str, str] = {
    "generic": "",
    "hubspot": "",
    "pipedrive": "",
    "salesforce": "",
    "salesforce-outbound": "",
}
PARTIAL_ROWS = """
SELECT (SELECT count(*) FROM deliveries WHERE outcome = 'received')
     + (SELECT count(*) FROM crm_events WHERE outcome = 'received')
     + (SELECT count(*) FROM deal_snapshots s WHERE NOT EXISTS (SELECT 1 FROM deal_revisions r
          WHERE r.source = s.source AND r.external_id = s.external_id AND r.revision = s.revision))
     + abs((SELECT count(*) FROM deal_revisions) - (SELECT count(*) FROM outbox WHERE topic = 'deals.v1'))
"""


def secret_of(doors: Doors, door: str) -> str:
    s = doors.settings
    return {
        "generic": s.generic_webhook_secrets[0],
        "hubspot": s.hubspot_client_secrets[0],
        "pipedrive": s.pipedrive_basic_auth[0],
        "salesforce": s.salesforce_webhook_secrets[0],
        "salesforce-outbound": s.salesforce_outbound_secrets[0],
    }[door]


async def test_arbitrary_signed_bodies_never_5xx_and_never_leave_a_partial_row(doors: Doors) -> None:
    loop = asyncio.get_running_loop()
    counter = iter(range(10**9))

    def check(door: str, payload: Any) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload, default=str).encode()
        url, body, headers = signed_request(
            door, doors.url, secret_of(doors, door), body, msg_id=f"f{next(counter)}"
        )
        response = httpx.post(url, content=body, headers=headers, timeout=30)
        assert response.status_code < 500, (door, body, response.text)
        partial = asyncio.run_coroutine_threadsafe(doors.scalar(PARTIAL_ROWS), loop).result()
        assert partial == 0, (door, body)

    fuzz = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))

    @fuzz
    @given(door=st.sampled_from(sorted(DOORS)), raw=st.binary(max_size=200))
    def bytes_to_every_door(door: str, raw: bytes) -> None:
        check(door, raw)

    @fuzz
    @given(door=st.sampled_from(sorted(DOORS)), value=json_values)
    def json_to_every_door(door: str, value: Any) -> None:
        check(door, value)

    @fuzz
    @given(events=hubspot_like)
    def hubspot_shaped(events: list[dict[str, Any]]) -> None:
        check("hubspot", events)

    @fuzz
    @given(payload=pipedrive_like)
    def pipedrive_shaped(payload: dict[str, Any]) -> None:
        check("pipedrive", payload)

    for run in (bytes_to_every_door, json_to_every_door, hubspot_shaped, pipedrive_shaped):
        await asyncio.to_thread(run)


# The authentication headers of the signed doors, each replaced by hostile text: a 400-digit
# timestamp, Unicode digits (Arabic-Indic, fullwidth), non-ASCII signatures, long ids (NUL
# and other controls cannot travel in an HTTP header: the client refuses to send them).
AUTH_HEADERS = {
    "generic": ("webhook-id", "webhook-timestamp", "webhook-signature"),
    "salesforce": ("webhook-id", "webhook-timestamp", "webhook-signature"),
    "hubspot": ("X-HubSpot-Request-Timestamp", "X-HubSpot-Signature-v3"),
}
hostile_header_values = st.sampled_from(
    [
        "9" * 400,
        "-" + "9" * 400,
        "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660",
        "\uff11\uff17\uff10\uff10",
        "\u00b2\u00b3",
        "1e308",
        "v1,\u00e9\u00e9\u00e9",
        "v1," + "\u00ff" * 44,
        "\u00e9" * 64,
        "x" * 6000,
        "",
    ]
) | st.text(st.characters(blacklist_categories=["Cs", "Cc"]), max_size=60).map(lambda text: text.strip(" "))


async def test_hostile_authentication_headers_are_refused_with_4xx_never_5xx(doors: Doors) -> None:
    loop = asyncio.get_running_loop()
    counter = iter(range(10**9))
    body = json.dumps({"type": "deal.snapshot", "data": {"external_id": "h"}}).encode()

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        door=st.sampled_from(sorted(AUTH_HEADERS)),
        which=st.integers(0, 2),
        value=hostile_header_values,
    )
    def hostile_header(door: str, which: int, value: str) -> None:
        url, sent, headers = signed_request(
            door, doors.url, secret_of(doors, door), body, msg_id=f"h{next(counter)}"
        )
        names = AUTH_HEADERS[door]
        name = names[which % len(names)]
        raw = {k.encode(): v.encode() for k, v in headers.items() if k.lower() != name.lower()}
        raw[name.encode()] = value.encode("utf-8")
        response = httpx.post(url, content=sent, headers=list(raw.items()), timeout=30)
        assert 400 <= response.status_code < 500, (door, name, value, response.status_code, response.text)
        partial = asyncio.run_coroutine_threadsafe(doors.scalar(PARTIAL_ROWS), loop).result()
        assert partial == 0, (door, name, value)

    await asyncio.to_thread(hostile_header)
