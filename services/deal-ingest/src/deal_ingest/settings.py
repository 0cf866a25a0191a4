"""deal-ingest settings (PROVISIO_* environment variables, one process per service)."""

from __future__ import annotations

from typing import Annotated

from pydantic import field_validator
from pydantic_settings import NoDecode

from provisio_common.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    service_name: str = "deal-ingest"
    database: str = "provisio_ingest"
    http_port: int = 8101
    # Standard Webhooks secrets of the generic door, comma-separated; several may be
    # active at once while a key is rotated.
    generic_webhook_secrets: Annotated[list[str], NoDecode] = []
    max_body_bytes: int = 1024 * 1024

    @field_validator("generic_webhook_secrets", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
