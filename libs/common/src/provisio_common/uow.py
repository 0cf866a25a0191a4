"""The unit of work: the one transaction boundary of every route and every consumer.

A unit of work holds the session, the service's repositories (`uow.repos`), the shared
dead-letter store and audit trail reader (`uow.audit_log`), and collects what the
transaction emits: `publish(record)` writes the outbox row (topic, key, type and source
derived from the record's route), `audit(...)` the audit row. `commit()` writes state,
outbox and audit rows together, or nothing; callbacks registered with `after_commit(...)`
run once it has (metrics that must count only what was committed).

Use cases open their own (`async with uow: ...; await uow.commit()`), so a route answers
only after its commit; event handlers run inside the consumer's unit of work and never
commit (the consumer does, after recording the event in the inbox).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import sqlalchemy.exc as sa_exc
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from provisio_common.audit import AuditLog, AuditRecord, SqlAuditLog
from provisio_common.auth import Principal
from provisio_common.dead_letters import DeadLetters, SqlDeadLetters
from provisio_common.events import Envelope, Schema
from provisio_common.logging import request_id_var
from provisio_common.outbox import OutboxRow, ParkedOutbox, SqlParkedOutbox, write_outbox
from provisio_common.problems import CommitConflict
from provisio_common.routes import outgoing
from provisio_common.tables import SharedTables

R = TypeVar("R")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboxMark:
    """Where an applied event came from (the inbox row)."""

    consumer: str
    event_id: str
    topic: str
    partition: int
    offset: int


class UnitOfWork(ABC, Generic[R]):
    """One transaction over a service's repositories, outbox, audit log and inbox."""

    repos: R
    dead_letters: DeadLetters
    audit_log: AuditLog
    parked_outbox: ParkedOutbox

    def __init__(self, source: str) -> None:
        self.source = source
        # What event handlers leave for their consumer's finisher (one per transaction).
        self.state: dict[str, Any] = {}
        # When set, every envelope this transaction publishes carries it: the acceptance
        # time of the webhook the published records descend from (`Envelope.accepted_at`).
        self.accepted_at: datetime | None = None
        self._committed = False
        self._after_commit: list[Callable[[], None]] = []

    async def __aenter__(self) -> Self:
        self._committed = False
        self.state = {}
        self.accepted_at = None
        self._after_commit = []
        await self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                await self.rollback()
        finally:
            await self._close()

    async def publish(self, record: Schema) -> Envelope:
        """Queue `record` on its topic (outbox), in this transaction; return its envelope."""
        out = outgoing(record, self.source, self.accepted_at)
        await self.enqueue(out.topic, out.key, out.envelope.to_bytes(), out.envelope.id)
        return out.envelope

    async def audit(self, principal: Principal, action: str, entity: str, before: Any, after: Any) -> None:
        """Append one audit row in this transaction."""
        await self._audit(
            AuditRecord(principal.sub, principal.role, action, entity, before, after, request_id_var.get())
        )

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction has committed (never if it rolls back)."""
        self._after_commit.append(callback)

    async def commit(self) -> None:
        """Commit state, outbox, audit and inbox together; CommitConflict on a constraint.
        Then run the `after_commit` callbacks in the order they were registered (one that
        raises is logged: the transaction has committed)."""
        await self._commit()
        self._committed = True
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # the transaction stands: a failing callback is logged, not raised
                log.exception("after-commit callback failed")

    @abstractmethod
    async def enqueue(self, topic: str, key: str, payload: bytes, event_id: str) -> None:
        """Queue raw bytes on a topic (the outbox row); `publish` is the typed way."""

    @abstractmethod
    async def record_inbox(self, mark: InboxMark) -> bool:
        """Record an applied event; False if this consumer already applied it."""

    @abstractmethod
    async def rollback(self) -> None:
        """Discard everything this transaction did."""

    @abstractmethod
    async def _begin(self) -> None: ...

    @abstractmethod
    async def _commit(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    @abstractmethod
    async def _audit(self, record: AuditRecord) -> None: ...


class SqlUnitOfWork(UnitOfWork[R]):
    """The unit of work on a service's Postgres database."""

    session: AsyncSession

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        tables: SharedTables,
        source: str,
        repositories: Callable[[AsyncSession], R],
    ) -> None:
        super().__init__(source)
        self._sessions = sessions
        self._tables = tables
        self._repositories = repositories

    async def _begin(self) -> None:
        self._outbox: list[OutboxRow] = []
        self.session = self._sessions()
        await self.session.begin()
        self.repos = self._repositories(self.session)
        self.dead_letters = SqlDeadLetters(self.session, self._tables.dead_letters)
        self.audit_log = SqlAuditLog(self.session, self._tables.audit)
        self.parked_outbox = SqlParkedOutbox(self.session, self._tables.outbox)

    async def _commit(self) -> None:
        try:
            # The rows `publish` queued, in one statement: the row locks that order a key's
            # writers (see provisio_common.outbox) are still held, so per-key order holds.
            rows, self._outbox = self._outbox, []
            if rows:
                await write_outbox(self.session, self._tables.outbox, rows)
            await self.session.commit()
        except sa_exc.IntegrityError as exc:
            raise CommitConflict(str(exc.orig)) from exc

    async def rollback(self) -> None:
        """Discard everything this transaction did."""
        await self.session.rollback()

    async def _close(self) -> None:
        await self.session.close()

    async def enqueue(self, topic: str, key: str, payload: bytes, event_id: str) -> None:
        """Queue raw bytes on a topic in this transaction (the outbox row, written at commit)."""
        self._outbox.append(OutboxRow(topic, key, event_id, payload))

    async def _audit(self, record: AuditRecord) -> None:
        await self.session.execute(self._tables.audit.insert().values(**record.__dict__))

    async def record_inbox(self, mark: InboxMark) -> bool:
        """Record an applied event; False if this consumer already applied it."""
        inbox = self._tables.inbox
        recorded = await self.session.execute(
            insert(inbox).values(**mark.__dict__).on_conflict_do_nothing().returning(inbox.c.event_id)
        )
        return recorded.first() is not None


UnitOfWorkFactory = Callable[[], UnitOfWork[Any]]
