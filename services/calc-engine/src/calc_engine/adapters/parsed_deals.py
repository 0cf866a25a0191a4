"""Deals parsed from their stored revisions, kept between runs in one calc-engine process.

Every reconciliation computes the deals of its periods; reading and parsing their JSON
revisions again each time cost more than the computation. A revision is never rewritten,
so a deal parsed once stays right while its set of revision numbers and the payees' CRM
references (which resolve its owner and splits) are the same: each run asks the database
only for the revision numbers of the deals in its window, and reads and parses only the
deals whose numbers changed. A change of CRM references empties the cache.

One instance per process and database (the app's runtime makes it); replicas each keep
their own, which is safe because what is cached is derived from immutable rows.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from calc_engine.adapters.repositories import Deals
from calc_engine.domain.inputs import in_history_order, to_deal
from provisio_calc import Deal

# Above this many deals to read, one query over the window beats a list of keys.
_BY_KEY = 1000


class ParsedDeals:
    """A read-through cache of parsed deals (all revisions, in history order) per deal."""

    def __init__(self, limit: int = 250_000) -> None:
        self.limit = limit  # deals kept at most (the least recently computed go first)
        self._index: dict[str, str] | None = None
        self._deals: dict[str, tuple[tuple[int, ...], list[Deal]]] = {}
        self.parsed = 0  # deals read and parsed since start (for tests and curiosity)

    async def load(
        self,
        deals: Deals,
        window: tuple[date, date] | None,
        index: dict[str, str],
        people: set[str] | None = None,
        linked: Collection[str] = (),
    ) -> list[Deal]:
        """Every revision of the deals with a revision closing in `window` (all deals
        without one; with `people`, only those naming one of these references in such a
        revision), and of the `linked` deals wherever they close (the deals of the run's
        activities: a deal filter looks at them), as the engine's `Deal`s, renumbered in
        history order."""
        if index != self._index:
            self._deals.clear()
            self._index = dict(index)
        found = await deals.revision_numbers(window=window, people=people)
        elsewhere = [deal for deal in linked if deal not in found] if window is not None else []
        if elsewhere:
            found.update(await deals.revision_numbers(deals=elsewhere))
        numbers = {deal: tuple(n) for deal, n in found.items()}
        stale = [
            deal for deal, n in numbers.items() if (kept := self._deals.get(deal)) is None or kept[0] != n
        ]
        if stale:
            documents = await (
                deals.revisions(deals=stale)
                if len(stale) <= _BY_KEY or people is not None
                else deals.revisions(window)
            )
            by_deal: dict[str, list[dict[str, Any]]] = {}
            for document in documents:
                by_deal.setdefault(f"{document['source']}:{document['external_id']}", []).append(document)
            for deal in stale:
                revisions = by_deal.get(deal, [])
                kept_numbers = tuple(sorted(int(r["revision"]) for r in revisions))
                parsed = [to_deal(d, index) for d in in_history_order(revisions)]
                self._deals[deal] = (kept_numbers, parsed)
                self.parsed += 1
        out: list[Deal] = []
        for deal in numbers:
            entry = self._deals.pop(deal)
            self._deals[deal] = entry  # most recently used last
            out.extend(entry[1])
        while len(self._deals) > self.limit:
            del self._deals[next(iter(self._deals))]
        return out
