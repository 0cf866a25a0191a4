"""The engine's inputs, built from the documents calc-engine replicates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from calc_engine.domain.people import resolve_people
from provisio_calc import Activity, Deal, FxRate, Payee, Quota
from provisio_common.events import revision_order


@dataclass(frozen=True)
class Inputs:
    """Everything one engine run reads (deals: every held revision of the deals loaded)."""

    payee_documents: dict[str, dict[str, Any]]
    payees: list[Payee]
    quotas: list[Quota]
    deals: list[Deal]
    activities: list[Activity]
    fx: list[FxRate]


def to_payee(document: dict[str, Any]) -> Payee:
    return Payee(
        id=document["id"],
        name=document.get("name", ""),
        manager=document.get("manager"),
        roles=tuple(document.get("roles") or ("rep",)),
        team=document.get("team"),
        territories=tuple(document.get("territories") or ()),
    )


def to_deal(document: dict[str, Any], index: dict[str, str]) -> Deal:
    return Deal.from_dict(resolve_people(document, index))


def in_history_order(documents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each deal's revisions numbered 1..n in history order (`changed_at`, then content;
    `provisio_common.events.revision_order`), whatever order they arrived in: the engine
    reads `revision` as history, deal-ingest assigns it by arrival."""
    by_deal: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for document in documents:
        by_deal[(document["source"], document["external_id"])].append(document)
    ordered: list[dict[str, Any]] = []
    for revisions in by_deal.values():
        in_order = revisions if len(revisions) == 1 else sorted(revisions, key=revision_order)
        for number, document in enumerate(in_order, start=1):
            ordered.append({**document, "revision": number})
    return ordered


def to_activity(document: dict[str, Any], index: dict[str, str]) -> Activity:
    return Activity.from_dict({**document, "owner": index.get(document["owner"], document["owner"])})


def close_day_of(document: dict[str, Any]) -> date | None:
    """The calendar day of a snapshot's close_date as sent (the coarse index)."""
    value = document.get("close_date")
    return date.fromisoformat(str(value)[:10]) if value else None
