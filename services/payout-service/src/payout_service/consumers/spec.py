"""payout-service's consumer: the ledger, the payees and every plan version, into their replicas."""

from __future__ import annotations

from payout_service.service_layer.handlers import on_ledger_entry, on_payee, on_plan_version
from provisio_common.events import LedgerEntryRecord, PayeeRecord, PlanVersion
from provisio_common.service import ConsumerSpec


def consumers() -> list[ConsumerSpec]:
    """One consumer group (`payout-service`) over `ledger.v1`, `payees.v1` and `plans.v1`."""
    return [
        ConsumerSpec(
            "payout-service",
            {LedgerEntryRecord: on_ledger_entry, PayeeRecord: on_payee, PlanVersion: on_plan_version},
        )
    ]
