"""In-memory fakes of the shared ports, for unit tests of a service layer.

`FakeUnitOfWork` has the semantics of `SqlUnitOfWork`: work is done on a copy of the
store and written back only on commit, so a rollback (or a use case that raises) leaves
the store, its outbox, audit log and inbox as they were. Both pass the same conformance
suite (`provisio_common` tests `test_uow_conformance.py`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Generic, TypeVar

from provisio_common.audit import AuditEntry, AuditFilter, AuditLog, AuditRecord
from provisio_common.dead_letters import DeadLetter, DeadLetters, LetterStatus
from provisio_common.events import Envelope
from provisio_common.outbox import ParkedOutbox, ParkedRow
from provisio_common.uow import InboxMark, UnitOfWork

R = TypeVar("R")


@dataclass(frozen=True)
class QueuedMessage:
    """One outbox row of the fake."""

    topic: str
    key: str
    payload: bytes
    event_id: str

    @property
    def envelope(self) -> Envelope:
        """The envelope the payload carries."""
        return Envelope.from_bytes(self.payload)


class MemoryDeadLetters(DeadLetters):
    """The in-memory dead-letter store."""

    def __init__(self) -> None:
        self.letters: dict[int, DeadLetter] = {}

    async def add(self, letter: DeadLetter) -> int | None:
        """Record a dead letter; None if this (consumer, topic, partition, offset) is known."""
        place = (letter.consumer, letter.topic, letter.partition, letter.offset)
        if any((d.consumer, d.topic, d.partition, d.offset) == place for d in self.letters.values()):
            return None
        letter_id = len(self.letters) + 1
        self.letters[letter_id] = replace(letter, id=letter_id, dead_lettered_at=datetime.now(UTC))
        return letter_id

    async def list(self, *, topic: str | None, status: LetterStatus, limit: int) -> list[DeadLetter]:
        """Newest first, filtered by topic and status."""
        wanted = {"pending": (True,), "replayed": (False,), "all": (True, False)}[status]
        out = [
            d
            for d in sorted(self.letters.values(), key=lambda d: -(d.id or 0))
            if (topic is None or d.topic == topic) and (d.replayed_at is None) in wanted
        ]
        return out[:limit]

    async def get(self, letter_id: int) -> DeadLetter | None:
        """One dead letter by id."""
        return self.letters.get(letter_id)

    async def mark_replayed(self, letter_id: int, at: datetime) -> DeadLetter:
        """Note one more replay of a known dead letter."""
        letter = self.letters[letter_id]
        self.letters[letter_id] = replace(letter, replayed_at=at, replays=letter.replays + 1)
        return self.letters[letter_id]

    async def pending(self) -> int:
        """How many dead letters were never replayed."""
        return sum(1 for d in self.letters.values() if d.replayed_at is None)


class MemoryAuditLog(AuditLog):
    """The in-memory audit trail: each row numbered and stamped as it is written."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def add(self, record: AuditRecord) -> None:
        """Write one audit row (the fake unit of work's `audit`)."""
        self.entries.append(AuditEntry(**vars(record), id=len(self.entries) + 1, at=datetime.now(UTC)))

    async def find(self, where: AuditFilter, limit: int) -> list[AuditEntry]:
        """At most `limit` rows matching `where`, newest (highest id) first."""
        return [e for e in reversed(self.entries) if where.matches(e)][:limit]


class MemoryParkedOutbox(ParkedOutbox):
    """Parked outbox rows in memory (the fake outbox never parks: tests put rows here)."""

    def __init__(self) -> None:
        self.rows: dict[int, ParkedRow] = {}

    async def find(self, *, limit: int) -> list[ParkedRow]:
        """Parked rows, oldest first."""
        return [self.rows[i] for i in sorted(self.rows)][:limit]

    async def count(self) -> int:
        """How many rows are parked."""
        return len(self.rows)

    async def release(self, row_id: int) -> list[int]:
        """Un-park a row and the parked rows of its key after it; the released ids."""
        if row_id not in self.rows:
            return []
        key = self.rows[row_id].key
        released = sorted(i for i, r in self.rows.items() if r.key == key and i >= row_id)
        for i in released:
            del self.rows[i]
        return released


@dataclass
class FakeStore(Generic[R]):
    """What a fake database holds between units of work: the service's repositories and
    the shared outbox, audit log, inbox and dead letters."""

    repos: R
    outbox: list[QueuedMessage] = field(default_factory=list)
    audits: list[AuditRecord] = field(default_factory=list)
    inbox: set[tuple[str, str]] = field(default_factory=set)
    dead_letters: MemoryDeadLetters = field(default_factory=MemoryDeadLetters)
    audit_log: MemoryAuditLog = field(default_factory=MemoryAuditLog)
    parked_outbox: MemoryParkedOutbox = field(default_factory=MemoryParkedOutbox)

    def published(self) -> list[Envelope]:
        """The envelopes committed to the outbox, in order."""
        return [m.envelope for m in self.outbox]


class FakeUnitOfWork(UnitOfWork[R]):
    """A unit of work on a `FakeStore`: copy on enter, write back on commit."""

    def __init__(self, store: FakeStore[R], source: str = "test") -> None:
        super().__init__(source)
        self.store = store
        self._work: FakeStore[R] | None = None

    @property
    def work(self) -> FakeStore[R]:
        """The working copy of this transaction."""
        assert self._work is not None, "enter the unit of work first"
        return self._work

    async def _begin(self) -> None:
        self._work = copy.deepcopy(self.store)
        self.repos = self._work.repos
        self.dead_letters = self._work.dead_letters
        self.audit_log = self._work.audit_log
        self.parked_outbox = self._work.parked_outbox

    async def _commit(self) -> None:
        work = self.work
        self.store.repos = work.repos
        self.store.outbox = work.outbox
        self.store.audits = work.audits
        self.store.inbox = work.inbox
        self.store.dead_letters = work.dead_letters
        self.store.audit_log = work.audit_log
        self.store.parked_outbox = work.parked_outbox
        self._work = copy.deepcopy(self.store)
        self.repos = self._work.repos
        self.dead_letters = self._work.dead_letters
        self.audit_log = self._work.audit_log
        self.parked_outbox = self._work.parked_outbox

    async def rollback(self) -> None:
        """Discard the working copy and start a fresh one from the store."""
        await self._begin()

    async def _close(self) -> None:
        self._work = None

    async def enqueue(self, topic: str, key: str, payload: bytes, event_id: str) -> None:
        """Append an outbox row to the working copy."""
        self.work.outbox.append(QueuedMessage(topic, key, payload, event_id))

    async def _audit(self, record: AuditRecord) -> None:
        self.work.audits.append(record)
        self.work.audit_log.add(record)

    async def record_inbox(self, mark: InboxMark) -> bool:
        """Record an applied event; False if this consumer already applied it."""
        if (mark.consumer, mark.event_id) in self.work.inbox:
            return False
        self.work.inbox.add((mark.consumer, mark.event_id))
        return True
