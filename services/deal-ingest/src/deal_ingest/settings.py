"""deal-ingest settings (PROVISIO_* environment variables, one process per service).

Every door is closed while its credential list is empty: each delivery to it is refused
with 401 (counted in `provisio_ingest_refusals_total`). The generic door is the one every
stack feeds, so outside `local` and `test` runs an empty `PROVISIO_GENERIC_WEBHOOK_SECRETS`
is refused at start rather than discovered as a wall of 401s; the CRM doors (HubSpot,
Pipedrive, Salesforce) may stay closed on purpose when their list is empty. An org on
`PROVISIO_SALESFORCE_ORG_IDS` without its basic-auth secret in
`PROVISIO_SALESFORCE_OUTBOUND_SECRETS` is refused at start outside `local` and `test`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from provisio_common.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: str = "deal-ingest"
    database: str = "provisio_ingest"
    http_port: int = 8101
    max_body_bytes: int = 1024 * 1024
    # How far after its receipt a snapshot's `changed_at` may lie (CRM clock skew); later is
    # 422: a far-future change would rank after every real one and freeze the deal.
    changed_at_max_ahead_s: float = Field(default=24 * 3600, ge=0)
    # Every list below is comma-separated in the environment; several secrets may be active
    # at once while one is rotated (add the new one, switch the CRM, remove the old one).
    # Standard Webhooks `whsec_` secrets of the generic door; required outside local and test.
    generic_webhook_secrets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # HubSpot app client secrets (signature v3); empty: the HubSpot door is closed (401).
    hubspot_client_secrets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The exact target URL configured in the HubSpot app (scheme, host, path, query), which
    # is what HubSpot signs. Unset: the URL this process saw (right without a rewriting proxy).
    hubspot_public_url: str | None = None
    # HubSpot deal stage (`closedwon`, or a custom pipeline's stage id) -> snapshot status;
    # a stage not listed is `open`. JSON in the environment.
    hubspot_stages: dict[str, str] = Field(default_factory=lambda: {"closedwon": "won", "closedlost": "lost"})
    # HubSpot deal property -> snapshot field. JSON in the environment.
    hubspot_properties: dict[str, str] = Field(
        default_factory=lambda: {
            "amount": "amount",
            "closedate": "close_date",
            "createdate": "created_date",
            "deal_currency_code": "currency",
            "hubspot_owner_id": "owner",
            "dealtype": "type",
            "dealstage": "status",
            "contract_months": "contract_months",
            "contract_start_date": "contract_start",
        }
    )
    # HubSpot `dealtype` value -> snapshot type; a value not listed leaves `type` empty.
    hubspot_deal_types: dict[str, str] = Field(
        default_factory=lambda: {"newbusiness": "new", "existingbusiness": "renewal"}
    )
    # HubSpot omits `deal_currency_code` on deals in the account's company currency.
    hubspot_default_currency: str = "USD"
    # Pipedrive webhook HTTP basic auth credentials, `user:password` pairs; empty: closed (401).
    pipedrive_basic_auth: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Standard Webhooks `whsec_` secrets of the Salesforce Flow/Apex callout door; empty: closed.
    salesforce_webhook_secrets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Organization ids (15 or 18 characters) whose Outbound Messages are accepted; empty: closed.
    salesforce_org_ids: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Outbound Messages cannot be signed: HTTP basic auth in the endpoint URL Salesforce calls,
    # `<org id>:<secret>` pairs (user: the org id, password: that org's secret; several per org
    # while one is rotated). Empty: the Outbound Message door is closed (401).
    salesforce_outbound_secrets: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Keys of the Pipedrive deal custom fields with the contract term (months) and start date
    # (`data.custom_fields.<key>`; Pipedrive generates the keys: copy them from the field).
    pipedrive_contract_months_field: str = "contract_months"
    pipedrive_contract_start_field: str = "contract_start_date"
    # Salesforce sends `CurrencyIsoCode` only in multi-currency orgs.
    salesforce_default_currency: str = "USD"

    @field_validator(
        "generic_webhook_secrets",
        "hubspot_client_secrets",
        "pipedrive_basic_auth",
        "salesforce_webhook_secrets",
        "salesforce_org_ids",
        "salesforce_outbound_secrets",
        mode="before",
    )
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("pipedrive_basic_auth")
    @classmethod
    def _pairs(cls, value: list[str]) -> list[str]:
        for pair in value:
            user, sep, password = pair.partition(":")
            if not (user and sep and password):
                raise ValueError("each Pipedrive credential is `user:password`")
        return value

    @field_validator("salesforce_outbound_secrets")
    @classmethod
    def _org_pairs(cls, value: list[str]) -> list[str]:
        for pair in value:
            org, sep, secret = pair.partition(":")
            if len(org) not in (15, 18) or not (sep and secret):
                raise ValueError(
                    "each PROVISIO_SALESFORCE_OUTBOUND_SECRETS entry is `<org id>:<secret>` "
                    "(a 15- or 18-character organization id)"
                )
        return value

    @model_validator(mode="after")
    def _allowed_orgs_have_a_secret(self) -> IngestSettings:
        if self.is_local:
            return self  # an org without a secret simply gets 401
        with_secret = {pair.partition(":")[0][:15] for pair in self.salesforce_outbound_secrets}
        missing = [org for org in self.salesforce_org_ids if org[:15] not in with_secret]
        if missing:
            raise ValueError(
                "PROVISIO_SALESFORCE_OUTBOUND_SECRETS has no `<org id>:<secret>` for "
                f"{', '.join(missing)} (on PROVISIO_SALESFORCE_ORG_IDS): Outbound Messages "
                "are accepted only with HTTP basic auth outside local and test runs"
            )
        return self

    @model_validator(mode="after")
    def _generic_door_has_a_secret(self) -> IngestSettings:
        if not self.is_local and not self.generic_webhook_secrets:
            raise ValueError(
                "PROVISIO_GENERIC_WEBHOOK_SECRETS is empty: set at least one `whsec_` secret "
                "(comma-separated) outside local and test runs"
            )
        return self
