"""payout-service use cases and event handlers: plain async functions taking a unit of work."""

from __future__ import annotations

from payout_service.adapters.repositories import PayoutRepositories
from provisio_common.uow import UnitOfWork

PayoutUoW = UnitOfWork[PayoutRepositories]
