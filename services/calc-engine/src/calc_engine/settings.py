"""calc-engine settings (PROVISIO_* environment variables, one process per service)."""

from __future__ import annotations

from provisio_common.settings import ServiceSettings


class CalcSettings(ServiceSettings):
    service_name: str = "calc-engine"
    database: str = "provisio_calc"
    http_port: int = 8102
