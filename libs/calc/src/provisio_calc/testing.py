"""Builders for tests and examples: a deal snapshot or a plan in one call."""

from __future__ import annotations

from typing import Any

from provisio_calc.inputs import Deal
from provisio_calc.plan import Plan, load_plan


def make_deal(external_id: str = "1", **fields: Any) -> Deal:
    """A won USD deal by `ana` closed 2027-01-15 for 1000, unless `fields` say otherwise."""
    data: dict[str, Any] = {
        "source": "crm",
        "external_id": external_id,
        "revision": 1,
        "status": "won",
        "amount": "1000",
        "currency": "USD",
        "close_date": "2027-01-15",
        "owner": "ana",
        "type": "new",
    }
    data.update(fields)
    if "changed_at" not in fields:
        data["changed_at"] = data["close_date"]
    return Deal.from_dict(data)


def make_plan(*components: dict[str, Any], **fields: Any) -> Plan:
    """A USD quarterly plan for 2027 with the given components."""
    data: dict[str, Any] = {
        "id": "test",
        "currency": "USD",
        "period": "quarter",
        "effective": {"from": "2027-01-01", "to": "2027-12-31"},
        "components": list(components),
    }
    data.update(fields)
    return load_plan(data)
