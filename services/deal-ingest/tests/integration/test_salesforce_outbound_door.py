"""The Outbound Message door over real HTTP: no credential, a wrong one, non-ASCII bytes or
another org's credentials get 401 problem+json with `WWW-Authenticate: Basic`, counted and
with nothing stored; the right org's credentials are acknowledged."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from ingest_doors import SF_ORG_ID, SF_OTHER_ORG_ID, SF_OUTBOUND_SECRET, Doors

from deal_ingest.adapters.crm.salesforce import ACK

SAMPLE = (Path(__file__).resolve().parents[1] / "samples" / "salesforce_outbound.xml").read_bytes()
SOAP = {"content-type": "text/xml; charset=utf-8", "SOAPAction": '""'}
STORED = ("deliveries", "deal_snapshots", "deal_revisions", "outbox")


def basic(raw: bytes) -> dict[str, str]:
    return {**SOAP, "authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (SOAP, "missing_credentials"),
        (basic(f"{SF_ORG_ID}:wrong".encode()), "bad_credentials"),
        (basic(f"{SF_ORG_ID}:{SF_OUTBOUND_SECRET}\u00e9".encode()), "bad_credentials"),
        (basic(b"\xff\xfe\x00:\x80"), "bad_credentials"),
        ({**SOAP, "authorization": "Basic ***"}, "bad_credentials"),
        # valid credentials of another allowed org, for a message of this org
        (basic(f"{SF_OTHER_ORG_ID}:other-org-secret".encode()), "org_mismatch"),
    ],
)
async def test_without_the_orgs_credentials_an_outbound_message_is_refused_and_leaves_no_row(
    doors: Doors, headers: dict[str, str], reason: str
) -> None:
    r = await doors.post("/webhooks/salesforce/outbound", SAMPLE, headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Basic ")
    assert r.json()["status"] == 401
    for table in STORED:
        assert await doors.count(table) == 0, table
    metrics = (await doors.get("/metrics")).text
    assert f'provisio_ingest_refusals_total{{reason="{reason}",source="salesforce"}}' in metrics


async def test_a_non_ascii_authorization_header_is_a_401_not_a_500(doors: Doors) -> None:
    raw = [(k.encode(), v.encode()) for k, v in SOAP.items()]
    raw.append((b"authorization", b"Basic \xc3\xa9\xff"))
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(f"{doors.url}/webhooks/salesforce/outbound", content=SAMPLE, headers=raw)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic ")


async def test_the_orgs_credentials_in_15_or_18_characters_are_acknowledged(doors: Doors) -> None:
    for user in (SF_ORG_ID, SF_ORG_ID[:15]):
        r = await doors.post(
            "/webhooks/salesforce/outbound", SAMPLE, basic(f"{user}:{SF_OUTBOUND_SECRET}".encode())
        )
        assert r.status_code == 200 and r.text == ACK
    assert await doors.count("deal_revisions") == 1
