"""Sign and send one delivery to a deal-ingest door, the way each CRM signs it.

`send("hubspot", "http://127.0.0.1:8101", client_secret, [...events])` and friends; used by
`provisio send-deal --door` and handy when wiring up a real CRM.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx

from deal_ingest.adapters.crm.hubspot import sign_v3
from provisio_common.ids import new_id
from provisio_common.webhooks import signed_headers

DOORS = {
    "generic": "/webhooks/generic",
    "hubspot": "/webhooks/hubspot",
    "pipedrive": "/webhooks/pipedrive",
    "salesforce": "/webhooks/salesforce",
    "salesforce-outbound": "/webhooks/salesforce/outbound",
}


def door_url(door: str, url: str) -> str:
    """`url` may be deal-ingest's base URL or already the door's full URL."""
    if door not in DOORS:
        raise ValueError(f"unknown door {door!r}; one of {', '.join(DOORS)}")
    return url if "/webhooks/" in url else url.rstrip("/") + DOORS[door]


def signed_request(
    door: str,
    url: str,
    secret: str,
    payload: bytes | dict[str, Any] | list[Any],
    *,
    msg_id: str | None = None,
) -> tuple[str, bytes, dict[str, str]]:
    """The URL, body and headers of one correctly signed delivery (nothing sent)."""
    target = door_url(door, url)
    if door == "pipedrive" and isinstance(payload, dict) and isinstance(payload.get("meta"), dict):
        # Pipedrive dedupes on meta.id: give it one if the caller did not
        meta = {"id": msg_id or str(uuid.uuid4()), **payload["meta"]}
        payload = {**payload, "meta": meta}
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": "application/json"}
    if door in ("generic", "salesforce"):
        headers.update(signed_headers(secret, msg_id or new_id(), body))
    elif door == "hubspot":
        timestamp = str(int(time.time() * 1000))
        headers["X-HubSpot-Request-Timestamp"] = timestamp
        headers["X-HubSpot-Signature-v3"] = sign_v3(secret, "POST", target, body, timestamp)
    elif door == "pipedrive":
        if ":" not in secret:
            raise ValueError("the Pipedrive secret is `user:password`")
        headers["authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    else:  # salesforce-outbound: basic auth `<org id>:<secret>`, as in the endpoint URL
        if ":" not in secret:
            raise ValueError("the Salesforce Outbound Message secret is `<org id>:<secret>`")
        headers["content-type"] = "text/xml; charset=utf-8"
        headers["SOAPAction"] = '""'
        headers["authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    return target, body, headers


def send(
    door: str,
    url: str,
    secret: str,
    payload: bytes | dict[str, Any] | list[Any],
    *,
    msg_id: str | None = None,
) -> httpx.Response:
    """POST one signed delivery to a door: generic, hubspot, salesforce, pipedrive
    (`secret` = "user:password") or salesforce-outbound (`secret` = "<org id>:<secret>").

    For hubspot the signed URI is `url` (plus the door path): pass the public URL HubSpot
    would call if deal-ingest sits behind a proxy with PROVISIO_HUBSPOT_PUBLIC_URL set.
    """
    target, body, headers = signed_request(door, url, secret, payload, msg_id=msg_id)
    return httpx.post(target, content=body, headers=headers, timeout=10)
