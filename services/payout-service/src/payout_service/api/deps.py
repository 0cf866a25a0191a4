"""Role aliases, the clock and the payroll layout of payout-service's routes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Request

from payout_service.domain.payroll import PayrollLayout
from provisio_common.auth import Principal, require_roles
from provisio_common.deps import Admin, Ops

AdminOrOps = Ops
PayrollReader = Annotated[Principal, Depends(require_roles("payroll", "admin", "ops"))]
Payroll = Annotated[Principal, Depends(require_roles("payroll"))]

__all__ = ["Admin", "AdminOrOps", "Layout", "Payroll", "PayrollReader", "Today"]


def today() -> date:
    """Today (UTC): draws are shown through today's pay period."""
    return datetime.now(UTC).date()


def payroll_layout(request: Request) -> PayrollLayout:
    """The payroll CSV layout of this service's settings."""
    settings = request.app.state.runtime.settings
    return PayrollLayout(settings.payroll_csv_columns, settings.payroll_earning_codes)


Today = Annotated[date, Depends(today)]
Layout = Annotated[PayrollLayout, Depends(payroll_layout)]
