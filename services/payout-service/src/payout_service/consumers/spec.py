"""payout-service's consumer: the ledger, the payees, every plan version and each deal's
contract terms, into their replicas."""

from __future__ import annotations

from payout_service.service_layer.accounting import on_deal
from payout_service.service_layer.handlers import on_ledger_entry, on_payee, on_plan_version
from provisio_common.events import DealSnapshot, LedgerEntryRecord, PayeeRecord, PlanVersion
from provisio_common.service import ConsumerSpec


def consumers() -> list[ConsumerSpec]:
    """One consumer group (`payout-service`) over `ledger.v1`, `payees.v1`, `plans.v1` and
    `deals.v1` (contract terms for commission expense)."""
    return [
        ConsumerSpec(
            "payout-service",
            {
                LedgerEntryRecord: on_ledger_entry,
                PayeeRecord: on_payee,
                PlanVersion: on_plan_version,
                DealSnapshot: on_deal,
            },
        )
    ]
