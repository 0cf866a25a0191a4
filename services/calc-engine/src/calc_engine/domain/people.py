"""Who a CRM user is: owners and split payees arrive as CRM references
(`hubspot:123`) or bare Provisio payee ids; each payee lists its `crm_ids`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def crm_index(payees: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """`{"hubspot:123": "rep-1", ...}` from the payees' `crm_ids`."""
    index: dict[str, str] = {}
    for payee in payees:
        for ref in payee.get("crm_ids", []):
            index[ref] = payee["id"]
    return index


def resolve_people(deal: Mapping[str, Any], index: Mapping[str, str]) -> dict[str, Any]:
    """The deal with its owner and split payees as Provisio payee ids where known.

    An unknown reference is left as it is, so the engine reports it (`unknown_payee`):
    nobody is guessed.
    """
    resolved = dict(deal)
    resolved["owner"] = index.get(deal["owner"], deal["owner"])
    resolved["splits"] = [
        {**split, "payee": index.get(split["payee"], split["payee"])} for split in deal.get("splits", [])
    ]
    return resolved
