"""calc-engine carries the webhook acceptance time (`accepted_at`) of the events it applies
into the envelopes of the ledger entries it posts for them: the earliest of the batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calc_fakes import (
    CalcStore,
    consume,
    consume_envelopes,
    deal,
    memory_repositories,
    payee,
    plan_version,
    published,
)

from provisio_common.routes import outgoing
from provisio_common.testing.fakes import FakeStore

ACCEPTED = datetime(2027, 2, 3, 10, 15, tzinfo=UTC)


async def company() -> CalcStore:
    store: CalcStore = FakeStore(memory_repositories())
    await consume(store, plan_version(), payee("ann"), payee("bob"))
    return store


async def test_a_batch_of_stamped_deals_posts_entries_carrying_its_earliest_stamp() -> None:
    store = await company()
    later = outgoing(deal("D1", owner="ann"), "deal-ingest", ACCEPTED + timedelta(seconds=2)).envelope
    earlier = outgoing(deal("D2", owner="bob"), "deal-ingest", ACCEPTED).envelope
    await consume_envelopes(store, [later, earlier])

    entries = published(store, "ledger.entry")
    assert {e.data["deal"] for e in entries} == {"generic:D1", "generic:D2"}
    assert [e.accepted_at for e in entries] == [ACCEPTED] * len(entries)
    assert [e.accepted_at for e in published(store, "credit")] == [None, None]  # credits: not stamped


async def test_entries_of_unstamped_events_carry_no_stamp() -> None:
    store = await company()
    await consume(store, deal("D1", owner="ann"))  # no accepted_at: a replay, a test producer
    [entry] = published(store, "ledger.entry")
    assert entry.accepted_at is None
