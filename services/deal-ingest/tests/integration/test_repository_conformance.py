"""One conformance suite per deal-ingest repository, run against the SQL implementation on
the real embedded Postgres (one migrated database for the module, distinct keys per test)
and against the in-memory fake the unit tests use: the same assertions, so the fake
cannot drift from Postgres."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ingest_fakes import fake_store, fake_uow

from deal_ingest.adapters.repositories import IngestRepositories, sql_repositories
from deal_ingest.adapters.tables import shared
from deal_ingest.bootstrap import MIGRATIONS
from provisio_common.embedded import EmbeddedPostgres
from provisio_common.events import ActivityRecord, DealSnapshot
from provisio_common.testing.plugin import CreateDb, migrated_units_of_work, sql_or_fake
from provisio_common.uow import UnitOfWork

Backend = Callable[[], UnitOfWork[IngestRepositories]]


@pytest.fixture(scope="module")
async def sql_backend(module_db: CreateDb, embedded_pg: EmbeddedPostgres) -> AsyncIterator[Backend]:
    async with migrated_units_of_work(
        embedded_pg,
        module_db,
        "ingest_repos",
        migrations=MIGRATIONS,
        tables=shared,
        repositories=sql_repositories,
        source="deal-ingest",
    ) as units:
        yield units


@pytest.fixture(params=["sql", "fake"])
def backend(request: pytest.FixtureRequest) -> Backend:
    store = fake_store()
    return sql_or_fake(request, "sql_backend", lambda: fake_uow(store))


@pytest.fixture
def unique() -> str:
    """A prefix no other test uses (the SQL database is shared by the module)."""
    return f"k{uuid.uuid4().hex[:10]}"


def snapshot(
    source: str, external_id: str, revision: int, *, amount: str = "10.00", day: int = 3, **extra: Any
) -> DealSnapshot:
    return DealSnapshot.model_validate(
        {
            "source": source,
            "external_id": external_id,
            "revision": revision,
            "status": "won",
            "amount": amount,
            "currency": "USD",
            "owner": "rep-1",
            "changed_at": f"2027-02-{day:02d}T10:00:00Z",
            "splits": [{"payee": "rep-1", "share": "1"}],
            **extra,
        }
    )


async def pause() -> None:
    """Let the clock move on, so stored-at windows have clear edges."""
    await asyncio.sleep(0.05)


async def keep(
    uow: UnitOfWork[IngestRepositories], source: str, delivery_id: str, body: bytes = b"{}", **kw: Any
) -> int | None:
    """Claim and record a delivery (what `receive_delivery` does); its row id, or None."""
    delivery = await uow.repos.deliveries.claim(source, delivery_id)
    if delivery is None:
        return None
    recorded = await uow.repos.deliveries.record(
        delivery,
        source,
        delivery_id,
        kw.get("headers", {}),
        body,
        kw.get("outcome", "new_revision"),
        kw.get("detail"),
    )
    return delivery if recorded else None


class TestDeliveries:
    async def test_a_delivery_is_recorded_once_per_source_and_delivery_id(
        self, backend: Backend, unique: str
    ) -> None:
        async with backend() as uow:
            first = await keep(uow, unique, "d-1", headers={"webhook-id": "d-1"})
            assert first is not None
            assert await uow.repos.deliveries.claim(unique, "d-1") is None
            other_source = await keep(uow, f"{unique}-b", "d-1")
            assert other_source is not None and other_source != first
            await uow.commit()
        async with backend() as uow:
            assert await uow.repos.deliveries.claim(unique, "d-1") is None

    async def test_a_redelivery_claimed_before_the_first_was_kept_is_not_recorded(
        self, backend: Backend, unique: str
    ) -> None:
        async with backend() as uow:
            racing = await uow.repos.deliveries.claim(unique, "d-1")
            first = await uow.repos.deliveries.claim(unique, "d-1")
            assert racing is not None and first is not None and racing != first
            assert await uow.repos.deliveries.record(first, unique, "d-1", {}, b"{}", "new_revision", None)
            assert not await uow.repos.deliveries.record(racing, unique, "d-1", {}, b"{}", "unchanged", None)
            await uow.commit()
        async with backend() as uow:
            [row] = await uow.repos.deliveries.find(
                source=unique, outcome=None, since=None, before=None, limit=5
            )
        assert (row.id, row.outcome) == (first, "new_revision")

    async def test_a_delivery_is_kept_verbatim_with_its_outcome(self, backend: Backend, unique: str) -> None:
        body = b'{"amount": "1.00"}\xff'
        async with backend() as uow:
            delivery = await keep(
                uow,
                unique,
                "d-1",
                body,
                headers={"content-type": "x/y"},
                outcome="ignored",
                detail="entity 'person' is not read",
            )
            assert delivery is not None
            await uow.commit()
        async with backend() as uow:
            [row] = await uow.repos.deliveries.find(
                source=unique, outcome=None, since=None, before=None, limit=5
            )
        assert (row.id, row.source, row.delivery_id) == (delivery, unique, "d-1")
        assert (row.headers, row.body) == ({"content-type": "x/y"}, body)
        assert (row.outcome, row.detail) == ("ignored", "entity 'person' is not read")
        assert row.received_at.tzinfo is not None
        assert abs(row.received_at - datetime.now(UTC)) < timedelta(minutes=1)

    async def test_a_delivery_not_committed_is_not_kept(self, backend: Backend, unique: str) -> None:
        async with backend() as uow:
            assert await keep(uow, unique, "d-1") is not None
        async with backend() as uow:
            assert (
                await uow.repos.deliveries.find(source=unique, outcome=None, since=None, before=None, limit=5)
                == []
            )
            assert await uow.repos.deliveries.claim(unique, "d-1") is not None

    async def test_find_is_newest_first_filtered_and_paged_by_id(self, backend: Backend, unique: str) -> None:
        async with backend() as uow:
            for n in range(4):
                outcome = "unchanged" if n % 2 else "new_revision"
                assert await keep(uow, unique, f"d-{n}", outcome=outcome) is not None
            await uow.commit()
        async with backend() as uow:
            find = uow.repos.deliveries.find
            newest = await find(source=unique, outcome=None, since=None, before=None, limit=3)
            assert [d.delivery_id for d in newest] == ["d-3", "d-2", "d-1"]
            older = await find(source=unique, outcome=None, since=None, before=newest[1].id, limit=3)
            assert [d.delivery_id for d in older] == ["d-1", "d-0"]
            unchanged = await find(source=unique, outcome="unchanged", since=None, before=None, limit=9)
            assert [d.delivery_id for d in unchanged] == ["d-3", "d-1"]
            later = datetime.now(UTC) + timedelta(minutes=5)
            assert await find(source=unique, outcome=None, since=later, before=None, limit=9) == []
            assert len(await find(source=None, outcome=None, since=None, before=None, limit=2)) == 2


class TestDeals:
    async def test_an_unknown_deal_has_nothing_stored(self, backend: Backend, unique: str) -> None:
        async with backend() as uow:
            assert await uow.repos.deals.lock_history(unique, "d1") == []
            assert await uow.repos.deals.current(unique, "d1") is None
            assert await uow.repos.deals.revisions(unique, "d1") == []

    async def test_a_revision_becomes_current_and_is_kept(self, backend: Backend, unique: str) -> None:
        first, second = snapshot(unique, "d1", 1), snapshot(unique, "d1", 2, amount="20.00", day=4)
        async with backend() as uow:
            await uow.repos.deals.add_revision(first, 7, current=True)
            await uow.commit()
        async with backend() as uow:
            (stored,) = await uow.repos.deals.lock_history(unique, "d1")
            assert (stored.revision, stored.changed_at, stored.document) == (
                1,
                first.changed_at,
                first.to_data(),
            )
            await uow.repos.deals.add_revision(second, 8, current=True)
            await uow.commit()
        async with backend() as uow:
            assert await uow.repos.deals.current(unique, "d1") == second.to_data()
            revisions = await uow.repos.deals.revisions(unique, "d1")
        assert [(r.revision, r.changed_at, r.document) for r in revisions] == [
            (1, first.changed_at, first.to_data()),
            (2, second.changed_at, second.to_data()),
        ]
        assert revisions[0].recorded_at <= revisions[1].recorded_at

    async def test_a_late_revision_is_kept_without_replacing_the_current_one(
        self, backend: Backend, unique: str
    ) -> None:
        latest, late = snapshot(unique, "d1", 1, status="lost", day=9), snapshot(unique, "d1", 2, day=3)
        async with backend() as uow:
            await uow.repos.deals.add_revision(latest, 7, current=True)
            await uow.repos.deals.add_revision(late, 8, current=False)
            await uow.commit()
        async with backend() as uow:
            assert await uow.repos.deals.current(unique, "d1") == latest.to_data()
            history = await uow.repos.deals.lock_history(unique, "d1")
            assert [(r.revision, r.document) for r in history] == [(1, latest.to_data()), (2, late.to_data())]

    async def test_a_revision_not_committed_is_not_kept(self, backend: Backend, unique: str) -> None:
        async with backend() as uow:
            await uow.repos.deals.add_revision(snapshot(unique, "d1", 1), 7, current=True)
        async with backend() as uow:
            assert await uow.repos.deals.current(unique, "d1") is None
            assert await uow.repos.deals.revisions(unique, "d1") == []

    async def test_find_filters_and_pages_in_deal_key_order(self, backend: Backend, unique: str) -> None:
        owner, other = f"{unique}-rep", f"{unique}-other"
        async with backend() as uow:
            for external_id, status, day, who in [
                ("d3", "won", 3, owner),
                ("d1", "won", 5, owner),
                ("d2", "lost", 4, owner),
                ("d4", "won", 3, other),
            ]:
                await uow.repos.deals.add_revision(
                    snapshot(unique, external_id, 1, status=status, day=day, owner=who), 1, current=True
                )
            await uow.commit()
        async with backend() as uow:
            find = uow.repos.deals.find
            mine = await find(status=None, owner=owner, changed_since=None, after=None, limit=10)
            assert [d.key for d in mine] == [f"{unique}:d1", f"{unique}:d2", f"{unique}:d3"]
            assert mine[0].document["owner"] == owner
            page = await find(status=None, owner=owner, changed_since=None, after=(unique, "d1"), limit=1)
            assert [d.external_id for d in page] == ["d2"]
            won = await find(status="won", owner=owner, changed_since=None, after=None, limit=10)
            assert [d.external_id for d in won] == ["d1", "d3"]
            since = datetime(2027, 2, 4, 10, 0, tzinfo=UTC)
            recent = await find(status=None, owner=owner, changed_since=since, after=None, limit=10)
            assert [d.external_id for d in recent] == ["d1", "d2"]

    async def test_stored_between_is_the_deals_of_a_source_stored_in_the_window(
        self, backend: Backend, unique: str
    ) -> None:
        async def store(source: str, external_id: str, revision: int) -> None:
            async with backend() as uow:
                await uow.repos.deals.add_revision(
                    snapshot(source, external_id, revision, day=revision), 1, current=True
                )
                await uow.commit()

        await store(unique, "before", 1)
        await store(unique, "updated", 1)
        await pause()
        since = datetime.now(UTC)
        await pause()
        await store(unique, "in-b", 1)
        await store(unique, "in-a", 1)
        await store(unique, "updated", 2)
        await store(f"{unique}-other", "in-c", 1)
        await pause()
        until = datetime.now(UTC)
        await pause()
        await store(unique, "after", 1)
        async with backend() as uow:
            window = await uow.repos.deals.stored_between(unique, since, until)
        assert [d.external_id for d in window] == ["in-a", "in-b", "updated"]
        assert window[2].document["revision"] == 2

    async def test_published_revisions_are_every_deals_published_ones_in_key_order(
        self, backend: Backend, unique: str
    ) -> None:
        async with backend() as uow:
            deals = uow.repos.deals
            await deals.add_revision(snapshot(unique, "b", 1), 1, current=True)
            await deals.add_revision(snapshot(unique, "b", 2, day=4), 1, current=True, published=False)
            await deals.add_revision(snapshot(unique, "b", 3, day=5), 1, current=True)
            await deals.add_revision(snapshot(unique, "a", 1), 1, current=True)
            await deals.add_revision(snapshot(unique, "c", 1), 1, current=True, published=False)
            await deals.add_revision(snapshot(f"{unique}z", "a", 1), 1, current=True)
            await uow.commit()
        async with backend() as uow:
            deals = uow.repos.deals
            first = await deals.published_revisions((unique, ""), 2)
            rest = await deals.published_revisions((unique, "b"), 1)
            await deals.mark_published(unique, "b", 2)
            await uow.commit()
        assert first == [(unique, "a", [1]), (unique, "b", [1, 3])]
        assert rest == [(f"{unique}z", "a", [1])]  # c published nothing
        async with backend() as uow:
            assert await uow.repos.deals.published_revisions((unique, "a"), 1) == [(unique, "b", [1, 2, 3])]


class TestActivities:
    async def test_an_activity_is_kept_once(self, backend: Backend, unique: str) -> None:
        call = ActivityRecord(
            source=unique,
            external_id="a1",
            kind="call",
            owner="pipedrive:42",
            occurred_at=datetime(2027, 2, 3, 11, 0, tzinfo=UTC),
            deal="4711",
        )
        async with backend() as uow:
            assert await uow.repos.activities.add(call, 3)
            assert not await uow.repos.activities.add(call.model_copy(update={"kind": "demo"}), 4)
            await uow.commit()
        async with backend() as uow:
            assert not await uow.repos.activities.add(call, 5)
            assert await uow.repos.activities.get(unique, "a1") == call
            assert await uow.repos.activities.get(unique, "a2") is None


class TestCrmEvents:
    async def test_an_event_is_claimed_once_and_keeps_its_outcome(
        self, backend: Backend, unique: str
    ) -> None:
        async with backend() as uow:
            assert await uow.repos.crm_events.outcome(unique, "e1") is None
            assert await uow.repos.crm_events.claim(unique, "e1", 1)
            assert not await uow.repos.crm_events.claim(unique, "e1", 2)
            assert await uow.repos.crm_events.outcome(unique, "e1") == "received"
            await uow.repos.crm_events.set_outcome(unique, "e1", "applied")
            await uow.commit()
        async with backend() as uow:
            assert not await uow.repos.crm_events.claim(unique, "e1", 3)
            assert await uow.repos.crm_events.claim(f"{unique}-b", "e1", 3)
            assert await uow.repos.crm_events.outcome(unique, "e1") == "applied"

    async def test_an_event_not_committed_is_not_claimed(self, backend: Backend, unique: str) -> None:
        async with backend() as uow:
            assert await uow.repos.crm_events.claim(unique, "e1", 1)
        async with backend() as uow:
            assert await uow.repos.crm_events.claim(unique, "e1", 1)


class TestCrmDealStates:
    async def test_a_merged_state_is_kept_and_replaced(self, backend: Backend, unique: str) -> None:
        state = {"amount": {"v": "10", "at": 1_801_000_000_000, "e": "1"}, "@created": {"at": 1, "e": "0"}}
        async with backend() as uow:
            assert await uow.repos.crm_deal_states.lock(unique, "501") is None
            await uow.repos.crm_deal_states.save(unique, "501", state)
            await uow.commit()
        async with backend() as uow:
            assert await uow.repos.crm_deal_states.lock(unique, "501") == state
            await uow.repos.crm_deal_states.save(unique, "501", {"amount": {"v": None, "at": 2, "e": "2"}})
            await uow.commit()
        async with backend() as uow:
            assert await uow.repos.crm_deal_states.lock(unique, "501") == {
                "amount": {"v": None, "at": 2, "e": "2"}
            }

    async def test_changing_a_read_state_without_saving_it_keeps_nothing(
        self, backend: Backend, unique: str
    ) -> None:
        async with backend() as uow:
            await uow.repos.crm_deal_states.save(unique, "501", {"amount": {"v": "10", "at": 1, "e": "1"}})
            await uow.commit()
        async with backend() as uow:
            state = await uow.repos.crm_deal_states.lock(unique, "501")
            assert state is not None
            state["amount"]["v"] = "99"
            state["owner"] = {"v": "7", "at": 2, "e": "2"}
            assert await uow.repos.crm_deal_states.lock(unique, "501") == {
                "amount": {"v": "10", "at": 1, "e": "1"}
            }
            await uow.commit()
