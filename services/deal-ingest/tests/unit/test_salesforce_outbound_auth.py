"""Salesforce Outbound Messages: HTTP basic auth per org (`<org id>:<secret>`), compared in
constant time on the org's 15-character id; anything else is a WebhookRefused (401), never
an exception the door would turn into a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from deal_ingest.adapters.crm.salesforce import check_outbound_auth
from deal_ingest.settings import IngestSettings
from provisio_common.webhooks import WebhookRefused, new_secret

ORG = "00D5g000004AbCdEAK"
PAIRS = [f"{ORG}:s3cret", "00D000000000001:other"]


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize("user", [ORG, ORG[:15]])
def test_the_org_id_in_15_or_18_characters_with_its_secret_is_accepted(user: str) -> None:
    assert check_outbound_auth(PAIRS, basic(f"{user}:s3cret".encode())) == ORG[:15]


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "missing_credentials"),
        ("", "missing_credentials"),
        ("Bearer abc", "missing_credentials"),
        ("Basic ", "missing_credentials"),
        ("Basic not*base64", "bad_credentials"),
        ("Basic éé", "bad_credentials"),  # non-ASCII in the header itself
        (basic(f"{ORG}:wrong".encode()), "bad_credentials"),
        (basic(b"00D000000000001:s3cret"), "bad_credentials"),  # another org's id, this org's secret
        (basic(f"{ORG[:14]}:s3cret".encode()), "bad_credentials"),
        (basic(f"{ORG}".encode()), "bad_credentials"),
        (basic(f"{ORG}:s3cr\u00e9t".encode()), "bad_credentials"),  # non-ASCII password
        (basic(b"\xff\xfe:\x00\x80"), "bad_credentials"),  # not even UTF-8
    ],
)
def test_missing_malformed_wrong_or_non_ascii_credentials_are_refused(
    authorization: str | None, reason: str
) -> None:
    with pytest.raises(WebhookRefused) as info:
        check_outbound_auth(PAIRS, authorization)
    assert info.value.reason == reason


def test_with_no_secret_configured_the_door_is_closed() -> None:
    with pytest.raises(WebhookRefused):
        check_outbound_auth([], basic(f"{ORG}:s3cret".encode()))


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name in (
        "PROVISIO_ENVIRONMENT",
        "PROVISIO_SALESFORCE_ORG_IDS",
        "PROVISIO_SALESFORCE_OUTBOUND_SECRETS",
    ):
        monkeypatch.delenv(name, raising=False)
    return {
        "environment": "production",
        "jwt_secret": SecretStr("a-real-production-secret"),
        "generic_webhook_secrets": [new_secret()],
    }


def test_outside_local_an_allowed_org_without_a_secret_is_refused_naming_the_variable(
    production: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError, match="PROVISIO_SALESFORCE_OUTBOUND_SECRETS"):
        IngestSettings(**production, salesforce_org_ids=[ORG])
    with pytest.raises(ValidationError, match="PROVISIO_SALESFORCE_OUTBOUND_SECRETS"):
        IngestSettings(
            **production,
            salesforce_org_ids=[ORG, "00D000000000001"],
            salesforce_outbound_secrets=[f"{ORG}:x"],
        )


def test_outside_local_allowed_orgs_with_secrets_start_and_local_runs_may_leave_the_door_closed(
    production: dict[str, Any],
) -> None:
    settings = IngestSettings(
        **production, salesforce_org_ids=[ORG], salesforce_outbound_secrets=f"{ORG[:15]}:x, {ORG}:y"
    )
    assert settings.salesforce_outbound_secrets == [f"{ORG[:15]}:x", f"{ORG}:y"]
    assert IngestSettings(environment="local", salesforce_org_ids=[ORG]).salesforce_outbound_secrets == []


@pytest.mark.parametrize("pair", ["nocolon", "short:secret", f"{ORG}:", f"{ORG}x:secret"])
def test_a_malformed_secret_entry_is_refused(pair: str) -> None:
    with pytest.raises(ValidationError, match="org id"):
        IngestSettings(environment="test", salesforce_outbound_secrets=[pair])
