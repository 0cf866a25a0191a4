"""A deal's revision history -> the dated states it earns on (PLANS.md rules 23-26)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from provisio_calc.inputs import Deal, InputInvalid
from provisio_calc.periods import local_day, local_instant


@dataclass(frozen=True, slots=True)
class DealEvent:
    """From `order` on, the deal counts as `snapshot` (None: it counts for nothing).

    `day` is the day the resulting entries are dated: the close day for the close-day
    credit, the revision's `changed_at` day for a reversal or a change after one.
    """

    order: tuple[date, int, str, str, int]
    day: date
    snapshot: Deal | None


def collect_revisions(deals: Iterable[Deal], tz: str, as_of: date | None) -> dict[str, dict[int, Deal]]:
    """Group snapshots by deal, dropping identical repeats and revisions changed after as_of.

    Raises InputInvalid when two different snapshots share a revision (rule 30).
    """
    by_deal: dict[str, dict[int, Deal]] = {}
    for deal in deals:
        changed = deal.changed_at
        if as_of is not None and changed is not None and local_day(changed, tz) > as_of:
            continue
        key = deal.key
        revisions = by_deal.get(key)
        if revisions is None:
            by_deal[key] = {deal.revision: deal}
            continue
        known = revisions.get(deal.revision)
        if known is None:
            revisions[deal.revision] = deal
        elif known != deal:
            raise InputInvalid(
                "revision",
                f"deal {deal.key} has two different snapshots with revision {deal.revision}",
            )
    return by_deal


def _is_reduction(new: Deal, old: Deal) -> bool:
    # Amounts in different currencies are not compared: such a change replaces the deal.
    return new.currency == old.currency and new.amount < old.amount


def deal_events(revisions: list[Deal], tz: str, window_days: int | None) -> list[DealEvent]:
    """The deal's states in order, from its revisions sorted by revision number.

    A won revision counts from its close day; a later cancelled/lost/open revision or
    a lower amount reverses it when its changed_at day is within `window_days` of the
    close day (None = unlimited), dated on that changed_at day. A later won revision
    that is not a reduction replaces the close-day credit until a reversal has
    happened, and is dated on its changed_at day after one.
    """
    events: list[DealEvent] = []
    current: Deal | None = None
    reversed_once = False
    current_close: date | None = None

    def within_window(revision: Deal) -> bool:
        if window_days is None:
            return True
        assert current_close is not None and revision.changed_at is not None
        return (local_day(revision.changed_at, tz) - current_close).days <= window_days

    def changed_event(revision: Deal, snapshot: Deal | None) -> DealEvent:
        assert revision.changed_at is not None
        day, micros = local_instant(revision.changed_at, tz)
        previous = events[-1].order
        # It applies after the credit it changes, even when changed_at is earlier.
        if (day, micros) < previous[:2]:
            day_key, micros = previous[0], previous[1]
        else:
            day_key = day
        order = (day_key, micros, revision.source, revision.external_id, len(events))
        return DealEvent(order, local_day(revision.changed_at, tz), snapshot)

    for revision in revisions:
        if revision.status == "won":
            assert revision.close_date is not None
            replaces = current is None or not _is_reduction(revision, current)
            if current is not None and not replaces and not within_window(revision):
                continue  # a reduction outside the window is ignored
            if not reversed_once and replaces:
                day, micros = local_instant(revision.close_date, tz)
                order = (day, micros, revision.source, revision.external_id, 0)
                events = [DealEvent(order, day, revision)]
            else:
                events.append(changed_event(revision, revision))
                if not replaces:
                    reversed_once = True
            current = revision
            current_close = local_day(revision.close_date, tz)
        elif current is not None and within_window(revision):
            events.append(changed_event(revision, None))
            current = None
            reversed_once = True
    return events
