"""deal-ingest settings: the generic door must have a secret outside local and test runs."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from deal_ingest.settings import IngestSettings
from provisio_common.webhooks import new_secret


@pytest.fixture(autouse=True)
def no_ingest_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PROVISIO_ENVIRONMENT", "PROVISIO_GENERIC_WEBHOOK_SECRETS", "PROVISIO_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_outside_local_and_test_an_empty_generic_secret_list_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValidationError) as info:
        IngestSettings(environment="production", jwt_secret=SecretStr("a-real-production-secret"))
    assert "PROVISIO_GENERIC_WEBHOOK_SECRETS" in str(info.value)


def test_an_empty_generic_secret_list_from_the_environment_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROVISIO_ENVIRONMENT", "production")
    monkeypatch.setenv("PROVISIO_JWT_SECRET", "a-real-production-secret")
    monkeypatch.setenv("PROVISIO_GENERIC_WEBHOOK_SECRETS", " , ")
    with pytest.raises(ValidationError, match="PROVISIO_GENERIC_WEBHOOK_SECRETS"):
        IngestSettings()


def test_production_starts_with_generic_secrets_and_other_doors_may_stay_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = new_secret(), new_secret()
    monkeypatch.setenv("PROVISIO_ENVIRONMENT", "production")
    monkeypatch.setenv("PROVISIO_JWT_SECRET", "a-real-production-secret")
    monkeypatch.setenv("PROVISIO_GENERIC_WEBHOOK_SECRETS", f"{first}, {second}")
    settings = IngestSettings()
    assert settings.generic_webhook_secrets == [first, second]
    assert settings.hubspot_client_secrets == [] and settings.pipedrive_basic_auth == []
    assert settings.salesforce_webhook_secrets == [] and settings.salesforce_org_ids == []


@pytest.mark.parametrize("environment", ["local", "test"])
def test_local_and_test_runs_start_without_generic_secrets(environment: str) -> None:
    settings = IngestSettings(environment=environment)
    assert settings.generic_webhook_secrets == []
