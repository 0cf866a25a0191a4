"""The consumers of quota-service: `credits.v1` into the credits replica."""

from __future__ import annotations

from provisio_common.events import CreditRecord
from provisio_common.service import ConsumerSpec
from quota_service.service_layer.credits import on_credit


def consumers() -> list[ConsumerSpec]:
    """One consumer group, `quota-service`: each credit to its handler."""
    return [ConsumerSpec("quota-service", {CreditRecord: on_credit})]
