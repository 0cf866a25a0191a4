"""The credits replica (`credits.v1`): the credits attainment is measured on."""

from __future__ import annotations

from provisio_common.events import CreditRecord
from quota_service.domain.credits import credit_of
from quota_service.service_layer.changes import QuotaUoW


async def on_credit(uow: QuotaUoW, record: CreditRecord) -> None:
    """Keep the latest credit of each (deal, payee); an older revision is ignored.

    Runs inside the consumer's unit of work (which commits with the inbox row)."""
    await uow.repos.credits.keep_latest(credit_of(record))
