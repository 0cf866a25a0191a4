"""calc-engine settings (PROVISIO_* environment variables, one process per service)."""

from __future__ import annotations

from provisio_common.settings import ServiceSettings


class CalcSettings(ServiceSettings):
    service_name: str = "calc-engine"
    database: str = "provisio_calc"
    http_port: int = 8102
    # How often the scheduler looks for contests whose window has ended (and at start).
    contest_check_interval_s: float = 60.0
    # Where `POST /recompute` asks what deal-ingest and quota-service published (with the
    # caller's token), to find and heal an input event calc-engine never got. Unset: the
    # recompute still runs, and says the inputs were not checked.
    deal_ingest_url: str | None = None
    quota_service_url: str | None = None
    # How long `POST /recompute` waits for the events it asked for before it answers 409.
    recompute_heal_timeout_s: float = 30.0
