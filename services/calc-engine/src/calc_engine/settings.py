"""calc-engine settings (PROVISIO_* environment variables, one process per service)."""

from __future__ import annotations

from provisio_common.settings import ServiceSettings


class CalcSettings(ServiceSettings):
    service_name: str = "calc-engine"
    database: str = "provisio_calc"
    http_port: int = 8102
    # How often the scheduler looks for contests whose window has ended (and at start).
    contest_check_interval_s: float = 60.0
