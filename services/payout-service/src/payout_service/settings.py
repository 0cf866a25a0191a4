"""payout-service settings (PROVISIO_* environment variables, one process per service)."""

from __future__ import annotations

from provisio_common.settings import ServiceSettings


class PayoutSettings(ServiceSettings):
    service_name: str = "payout-service"
    database: str = "provisio_payout"
    http_port: int = 8104
