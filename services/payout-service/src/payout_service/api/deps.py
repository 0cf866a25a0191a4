"""Role aliases, the clock and the payroll layout of payout-service's routes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Request

from payout_service.domain.payroll import PayrollLayout
from provisio_common.access import allow
from provisio_common.auth import Principal
from provisio_common.deps import Admin, Ops

# Who may call a route, declared once (`access.allow`); the use cases apply the scopes
# (`ensure_may_see`, `domain/disputes.py`): a manager their subtree, a rep themselves.
AdminOrOps = Ops
PayrollReader = Annotated[Principal, Depends(allow("payroll", "admin", "ops"))]
Payroll = Annotated[Principal, Depends(allow("payroll"))]
# A payee's statements and disputes: admin and ops everyone's, a manager their subtree's,
# a rep their own (payroll pulls batches, not statements).
PayeeReader = Annotated[Principal, Depends(allow("admin", "ops", "manager:subtree", "rep:self"))]
DisputeParty = Annotated[Principal, Depends(allow("manager:subtree", "rep:self"))]
DisputeCommenter = Annotated[Principal, Depends(allow("admin", "manager:subtree", "rep:self"))]
DisputeResolver = Annotated[Principal, Depends(allow("admin", "manager:subtree"))]

__all__ = [
    "Admin",
    "AdminOrOps",
    "DisputeCommenter",
    "DisputeParty",
    "DisputeResolver",
    "Layout",
    "PayeeReader",
    "Payroll",
    "PayrollReader",
    "Today",
]


async def today() -> date:
    """Today (UTC): draws are shown through today's pay period."""
    return datetime.now(UTC).date()


async def payroll_layout(request: Request) -> PayrollLayout:
    """The payroll CSV layout of this service's settings."""
    settings = request.app.state.runtime.settings
    return PayrollLayout(settings.payroll_csv_columns, settings.payroll_earning_codes)


Today = Annotated[date, Depends(today)]
Layout = Annotated[PayrollLayout, Depends(payroll_layout)]
