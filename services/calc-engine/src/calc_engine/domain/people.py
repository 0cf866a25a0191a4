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


def subtree(payees: Mapping[str, Mapping[str, Any]], top: str) -> set[str]:
    """`top` and everyone whose chain of managers passes through `top` (payee documents by
    id; a cycle stops at the repeat, as the engine's hierarchy does)."""
    under = {top}
    for payee in payees:
        chain: str | None = payee
        seen: set[str] = set()
        while chain is not None and chain not in seen:
            if chain == top:
                under.add(payee)
                break
            seen.add(chain)
            document = payees.get(chain)
            chain = None if document is None else document.get("manager")
    return under


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
