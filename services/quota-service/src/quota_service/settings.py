"""quota-service settings (PROVISIO_* environment variables)."""

from __future__ import annotations

from provisio_common.settings import ServiceSettings


class QuotaSettings(ServiceSettings):
    service_name: str = "quota-service"
    database: str = "provisio_quota"
    http_port: int = 8103
