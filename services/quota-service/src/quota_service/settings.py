"""quota-service settings (PROVISIO_* environment variables)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, field_validator

from provisio_common.money import is_currency_code
from provisio_common.settings import ServiceSettings


class QuotaSettings(ServiceSettings):
    service_name: str = "quota-service"
    database: str = "provisio_quota"
    http_port: int = 8103
    # The one currency scorecards, leaderboards and team attainment are given in (KPI
    # targets of money KPIs are in it too).
    reporting_currency: str = "USD"
    # GET /targets/reconcile flags a team when |team target - members'| > this x |team target|.
    reconcile_tolerance: Decimal = Field(default=Decimal("0.05"), ge=0)
    # Whether a rep sees the names and values of others on leaderboards (else ranks only).
    leaderboard_names_for_reps: bool = False

    @field_validator("reporting_currency")
    @classmethod
    def _iso_code(cls, value: str) -> str:
        if not is_currency_code(value):
            raise ValueError("must be an ISO 4217 code such as USD")
        return value
