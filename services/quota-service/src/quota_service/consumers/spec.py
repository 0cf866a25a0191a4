"""The consumers of quota-service: `credits.v1` into the credits replica (attainment);
`deals.v1`, `activities.v1` and `ledger.v1` into the replicas the KPI catalogue reads."""

from __future__ import annotations

from provisio_common.events import ActivityRecord, CreditRecord, DealSnapshot, LedgerEntryRecord
from provisio_common.service import ConsumerSpec
from quota_service.service_layer.credits import on_credit
from quota_service.service_layer.replicas import on_activity, on_deal, on_ledger_entry


def consumers() -> list[ConsumerSpec]:
    """One consumer group, `quota-service`: each event to its handler."""
    return [
        ConsumerSpec(
            "quota-service",
            {
                CreditRecord: on_credit,
                DealSnapshot: on_deal,
                ActivityRecord: on_activity,
                LedgerEntryRecord: on_ledger_entry,
            },
        )
    ]
