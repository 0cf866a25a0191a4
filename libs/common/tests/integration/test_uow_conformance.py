"""One conformance suite for the unit of work and the dead-letter store, run against
`SqlUnitOfWork` on the real embedded Postgres and against `FakeUnitOfWork`: publish,
audit, inbox and dead letters commit together with state, or not at all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from provisio_common.audit import AuditRecord
from provisio_common.auth import Principal
from provisio_common.db import create_engine, session_factory
from provisio_common.dead_letters import DeadLetter
from provisio_common.events import Envelope, QuotaRecord
from provisio_common.problems import CommitConflict
from provisio_common.settings import ProvisioSettings
from provisio_common.tables import shared_tables
from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork
from provisio_common.uow import InboxMark, SqlUnitOfWork, UnitOfWork

metadata = sa.MetaData()
tables = shared_tables(metadata)
# Deferred, so a duplicate is refused by the commit itself (the case a route must not answer 2xx).
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("name", sa.Text),
    sa.Column("text", sa.Text),
    sa.PrimaryKeyConstraint("name", deferrable=True, initially="DEFERRED"),
)

ADMIN = Principal("ada", "admin")


class Notes:
    """A tiny repository port, so the suite can see state commit with the outbox."""

    async def put(self, name: str, text: str) -> None:
        raise NotImplementedError

    async def get(self, name: str) -> str | None:
        raise NotImplementedError


class SqlNotes(Notes):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def put(self, name: str, text: str) -> None:
        await self.session.execute(notes.insert().values(name=name, text=text))

    async def get(self, name: str) -> str | None:
        return (await self.session.execute(sa.select(notes.c.text).where(notes.c.name == name))).scalar()


class MemoryNotes(Notes):
    def __init__(self) -> None:
        self.rows: dict[str, str] = {}

    async def put(self, name: str, text: str) -> None:
        if name in self.rows:
            raise CommitConflict(f"note {name!r} exists")
        self.rows[name] = text

    async def get(self, name: str) -> str | None:
        return self.rows.get(name)


@dataclass
class Backend:
    """A way to make units of work and to read what they committed."""

    uow: Callable[[], UnitOfWork[Notes]]
    published: Callable[[], Awaitable[list[tuple[str, str, Envelope]]]]
    audits: Callable[[], Awaitable[list[AuditRecord]]]


@pytest.fixture(scope="module")
async def sql_backend(module_db: Any, embedded_pg: Any) -> AsyncIterator[Backend]:
    settings = ProvisioSettings(pg_port=embedded_pg.port)
    engine = create_engine(settings.dsn(await module_db("uow")))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = session_factory(engine)

    def uow() -> UnitOfWork[Notes]:
        return SqlUnitOfWork(sessions=sessions, tables=tables, source="svc", repositories=SqlNotes)

    async def published() -> list[tuple[str, str, Envelope]]:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(tables.outbox).order_by(tables.outbox.c.id))).all()
        return [(r.topic, r.key, Envelope.from_bytes(r.payload)) for r in rows]

    async def audits() -> list[AuditRecord]:
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(tables.audit).order_by(tables.audit.c.id))).all()
        return [
            AuditRecord(r.actor, r.role, r.action, r.entity, r.before, r.after, r.request_id) for r in rows
        ]

    yield Backend(uow, published, audits)
    await engine.dispose()


@pytest.fixture(params=["sql", "fake"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "sql":
        sql: Backend = request.getfixturevalue("sql_backend")
        return sql
    store: FakeStore[Notes] = FakeStore(MemoryNotes())

    async def published() -> list[tuple[str, str, Envelope]]:
        return [(m.topic, m.key, m.envelope) for m in store.outbox]

    async def audits() -> list[AuditRecord]:
        return list(store.audits)

    return Backend(lambda: FakeUnitOfWork(store, "svc"), published, audits)


def quota(payee: str) -> QuotaRecord:
    return QuotaRecord.model_validate({"payee": payee, "period": "2027-Q1", "amount": "1000"})


async def test_publish_derives_topic_key_type_and_source_and_commits_with_state(backend: Backend) -> None:
    before = len(await backend.published())
    async with backend.uow() as uow:
        await uow.repos.put("n-pub", "hello")
        env = await uow.publish(quota("rep-pub"))
        await uow.audit(ADMIN, "note.put", "note:n-pub", None, {"text": "hello"})
        await uow.commit()
    topic, key, stored = (await backend.published())[before]
    assert (topic, key) == ("quotas.v1", "rep-pub:2027-Q1")
    assert (stored.id, stored.type, stored.source, stored.subject) == (
        env.id,
        "quota",
        "svc",
        "rep-pub:2027-Q1",
    )
    assert stored.data["amount"] == "1000"
    audit = (await backend.audits())[-1]
    assert (audit.actor, audit.role, audit.action, audit.after) == (
        "ada",
        "admin",
        "note.put",
        {"text": "hello"},
    )
    async with backend.uow() as uow:
        assert await uow.repos.get("n-pub") == "hello"


async def test_leaving_without_commit_writes_nothing(backend: Backend) -> None:
    before, audits = len(await backend.published()), len(await backend.audits())
    async with backend.uow() as uow:
        await uow.repos.put("n-gone", "x")
        await uow.publish(quota("rep-gone"))
        await uow.audit(ADMIN, "note.put", "note:n-gone", None, "x")
    assert len(await backend.published()) == before and len(await backend.audits()) == audits
    async with backend.uow() as uow:
        assert await uow.repos.get("n-gone") is None


async def test_an_error_inside_rolls_everything_back(backend: Backend) -> None:
    before = len(await backend.published())
    with pytest.raises(RuntimeError):
        async with backend.uow() as uow:
            await uow.repos.put("n-err", "x")
            await uow.publish(quota("rep-err"))
            raise RuntimeError("use case failed")
    assert len(await backend.published()) == before
    async with backend.uow() as uow:
        assert await uow.repos.get("n-err") is None


async def test_rollback_then_more_work_commits_only_the_later_work(backend: Backend) -> None:
    async with backend.uow() as uow:
        await uow.repos.put("n-rb1", "x")
        await uow.rollback()
        await uow.repos.put("n-rb2", "y")
        await uow.commit()
    async with backend.uow() as uow:
        assert (await uow.repos.get("n-rb1"), await uow.repos.get("n-rb2")) == (None, "y")


async def test_a_refused_commit_is_a_conflict_and_keeps_nothing(backend: Backend) -> None:
    async with backend.uow() as uow:
        await uow.repos.put("n-dup", "first")
        await uow.commit()
    before = len(await backend.published())
    with pytest.raises(CommitConflict):
        async with backend.uow() as uow:
            await uow.publish(quota("rep-dup"))
            await uow.repos.put("n-dup", "second")
            await uow.commit()
    assert len(await backend.published()) == before


async def test_the_inbox_records_an_event_once_per_consumer(backend: Backend) -> None:
    mark = InboxMark("c1", "evt-inbox", "deals.v1", 0, 7)
    async with backend.uow() as uow:
        assert await uow.record_inbox(mark)
        assert not await uow.record_inbox(mark)
        assert await uow.record_inbox(InboxMark("c2", "evt-inbox", "deals.v1", 0, 7))
        await uow.commit()
    async with backend.uow() as uow:
        assert not await uow.record_inbox(mark)
    async with backend.uow() as uow:
        assert await uow.record_inbox(InboxMark("c1", "evt-uncommitted", "deals.v1", 0, 8))
    async with backend.uow() as uow:
        assert await uow.record_inbox(InboxMark("c1", "evt-uncommitted", "deals.v1", 0, 8))


def letter(offset: int, topic: str = "deals.v1") -> DeadLetter:
    return DeadLetter(
        consumer="c1",
        topic=topic,
        partition=0,
        offset=offset,
        key=b"k",
        payload=b"\xff not json",
        headers={"provisio-error": "boom"},
        event_id=None,
        error="ValueError: boom",
        error_type="ValueError",
        attempts=3,
    )


async def test_dead_letters_are_kept_once_listed_newest_first_and_marked_replayed(backend: Backend) -> None:
    topic = f"t{id(backend)}.v1"
    async with backend.uow() as uow:
        first = await uow.dead_letters.add(letter(1, topic))
        second = await uow.dead_letters.add(letter(2, topic))
        assert await uow.dead_letters.add(letter(1, topic)) is None
        await uow.commit()
    assert first is not None and second is not None
    async with backend.uow() as uow:
        listed = await uow.dead_letters.list(topic=topic, status="all", limit=10)
        assert [d.offset for d in listed] == [2, 1]
        assert listed[0].payload == b"\xff not json" and listed[0].headers == {"provisio-error": "boom"}
        pending = await uow.dead_letters.pending()
        replayed = await uow.dead_letters.mark_replayed(first, datetime.now(UTC))
        assert replayed.replays == 1 and replayed.replayed_at is not None
        assert await uow.dead_letters.pending() == pending - 1
        await uow.commit()
    async with backend.uow() as uow:
        assert [d.offset for d in await uow.dead_letters.list(topic=topic, status="pending", limit=10)] == [2]
        assert [d.offset for d in await uow.dead_letters.list(topic=topic, status="replayed", limit=10)] == [
            1
        ]
        assert await uow.dead_letters.get(10**9) is None


async def test_units_of_work_are_independent_transactions(backend: Backend) -> None:
    async def write(name: str) -> None:
        async with backend.uow() as uow:
            await uow.repos.put(name, name)
            await uow.commit()

    await asyncio.gather(*(write(f"n-par-{i}") for i in range(5)))
    async with backend.uow() as uow:
        assert [await uow.repos.get(f"n-par-{i}") for i in range(5)] == [f"n-par-{i}" for i in range(5)]


async def test_accepted_at_stamps_what_one_unit_of_work_publishes_and_no_other(backend: Backend) -> None:
    accepted = datetime(2027, 2, 3, 10, 15, 0, 250000, tzinfo=UTC)
    before = len(await backend.published())
    async with backend.uow() as uow:
        uow.accepted_at = accepted
        await uow.publish(quota("rep-stamp-1"))
        await uow.publish(quota("rep-stamp-2"))
        await uow.commit()
    async with backend.uow() as uow:
        assert uow.accepted_at is None  # every unit of work starts unstamped
        await uow.publish(quota("rep-stamp-3"))
        await uow.commit()
    stamped = [env.accepted_at for _, _, env in (await backend.published())[before:]]
    assert stamped == [accepted, accepted, None]


async def test_after_commit_callbacks_run_once_committed_and_never_after_a_rollback(
    backend: Backend,
) -> None:
    ran: list[str] = []
    async with backend.uow() as uow:
        await uow.repos.put("n-after", "x")
        uow.after_commit(lambda: ran.append("first"))
        uow.after_commit(lambda: ran.append("second"))
        assert ran == []
        await uow.commit()
        assert ran == ["first", "second"]
        await uow.commit()  # nothing registered since: nothing runs again
    assert ran == ["first", "second"]
    async with backend.uow() as uow:
        uow.after_commit(lambda: ran.append("left"))
    with pytest.raises(CommitConflict):
        async with backend.uow() as uow:
            await uow.repos.put("n-after", "again")
            uow.after_commit(lambda: ran.append("refused"))
            await uow.commit()
    async with backend.uow() as uow:
        await uow.commit()  # a later unit of work does not inherit earlier callbacks
    assert ran == ["first", "second"]


async def test_a_failing_after_commit_callback_leaves_the_commit_standing(backend: Backend) -> None:
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("metric broke")

    async with backend.uow() as uow:
        await uow.repos.put("n-after-boom", "kept")
        uow.after_commit(boom)
        uow.after_commit(lambda: ran.append("next"))
        await uow.commit()
    assert ran == ["next"]
    async with backend.uow() as uow:
        assert await uow.repos.get("n-after-boom") == "kept"
