"""payout-service's consumer: the ledger and the payee hierarchy, into their replicas."""

from __future__ import annotations

from payout_service.service_layer.handlers import on_ledger_entry, on_payee
from provisio_common.events import LedgerEntryRecord, PayeeRecord
from provisio_common.service import ConsumerSpec


def consumers() -> list[ConsumerSpec]:
    """One consumer group (`payout-service`) over `ledger.v1` and `payees.v1`."""
    return [ConsumerSpec("payout-service", {LedgerEntryRecord: on_ledger_entry, PayeeRecord: on_payee})]
