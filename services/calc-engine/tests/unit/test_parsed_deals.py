"""The process's cache of parsed deals: a deal is read and parsed once, again only when its
revisions or the payees' CRM references change, and it gives what parsing every stored
revision gives (renumbered in history order)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from calc_fakes import MemoryDeals

from calc_engine.adapters.parsed_deals import ParsedDeals
from calc_engine.domain.inputs import in_history_order, to_deal
from provisio_calc import Deal

Q1 = (date(2026, 1, 1), date(2026, 3, 31))


def document(external_id: str, changed_at: str, amount: str, close: str = "2026-02-10") -> dict[str, Any]:
    return {
        "source": "generic",
        "external_id": external_id,
        "revision": 1,
        "status": "won",
        "amount": amount,
        "currency": "USD",
        "close_date": close,
        "changed_at": changed_at,
        "owner": "crm-ann",
        "splits": [],
        "lines": [],
    }


async def keep(deals: MemoryDeals, revision: int, doc: dict[str, Any]) -> None:
    key = f"generic:{doc['external_id']}"
    await deals.add_revision(
        key, revision, {**doc, "revision": revision}, date.fromisoformat(doc["close_date"])
    )


async def from_scratch(deals: MemoryDeals, index: dict[str, str]) -> list[Deal]:
    return [to_deal(d, index) for d in in_history_order(await deals.revisions(Q1))]


def by_key(parsed: list[Deal]) -> list[tuple[str, int, object]]:
    return sorted((d.key, d.revision, d.amount) for d in parsed)


async def test_a_deal_is_parsed_once_and_again_only_when_its_revisions_change() -> None:
    deals, cache, index = MemoryDeals(), ParsedDeals(), {"crm-ann": "ann"}
    await keep(deals, 1, document("A", "2026-02-10T10:00:00Z", "100"))
    await keep(deals, 1, document("B", "2026-02-11T10:00:00Z", "200"))
    await keep(deals, 1, document("C", "2026-05-11T10:00:00Z", "300", close="2026-05-11"))
    first = await cache.load(deals, Q1, index)
    assert by_key(first) == by_key(await from_scratch(deals, index))
    assert {d.key for d in first} == {"generic:A", "generic:B"} and cache.parsed == 2
    assert by_key(await cache.load(deals, Q1, index)) == by_key(first)
    assert cache.parsed == 2  # nothing read again
    # A late revision of A (changed earlier than the one held): A alone is parsed again,
    # and its revisions are renumbered in history order.
    await keep(deals, 2, document("A", "2026-02-09T10:00:00Z", "90"))
    again = await cache.load(deals, Q1, index)
    assert cache.parsed == 3
    assert by_key(again) == by_key(await from_scratch(deals, index))
    assert [(d.revision, d.amount) for d in again if d.key == "generic:A"] == [
        (1, Decimal(90)),
        (2, Decimal(100)),
    ]


async def test_a_change_of_crm_references_parses_everything_again() -> None:
    deals, cache = MemoryDeals(), ParsedDeals()
    await keep(deals, 1, document("A", "2026-02-10T10:00:00Z", "100"))
    [before] = await cache.load(deals, Q1, {"crm-ann": "ann"})
    [after] = await cache.load(deals, Q1, {"crm-ann": "bob"})
    assert (before.owner, after.owner, cache.parsed) == ("ann", "bob", 2)


async def test_the_least_recently_used_deals_go_beyond_the_limit() -> None:
    deals, cache, index = MemoryDeals(), ParsedDeals(limit=1), dict[str, str]()
    await keep(deals, 1, document("A", "2026-02-10T10:00:00Z", "100"))
    await keep(deals, 1, document("B", "2026-05-10T10:00:00Z", "200", close="2026-05-10"))
    q2 = (date(2026, 4, 1), date(2026, 6, 30))
    await cache.load(deals, Q1, index)
    await cache.load(deals, q2, index)  # B pushes A out
    assert cache.parsed == 2
    await cache.load(deals, q2, index)
    assert cache.parsed == 2
    assert [d.key for d in await cache.load(deals, Q1, index)] == ["generic:A"]
    assert cache.parsed == 3
