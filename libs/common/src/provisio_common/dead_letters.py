"""Dead letters: every message a consumer could not apply, kept in the service's own
database when it is sent to `<topic>.dlq`, so ops can list and replay it without relying
on the broker keeping the DLQ topic.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

LetterStatus = Literal["pending", "replayed", "all"]


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message: where it came from, what it was, why it failed."""

    consumer: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    payload: bytes
    headers: dict[str, str]
    event_id: str | None
    error: str
    error_type: str
    attempts: int
    id: int | None = None
    dead_lettered_at: datetime | None = None
    replayed_at: datetime | None = None
    replays: int = 0


class DeadLetters(ABC):
    """The port: record, list, find, mark replayed, count pending."""

    @abstractmethod
    async def add(self, letter: DeadLetter) -> int | None:
        """Record a dead letter; None if this (consumer, topic, partition, offset) is known."""

    @abstractmethod
    async def list(self, *, topic: str | None, status: LetterStatus, limit: int) -> list[DeadLetter]:
        """Newest first; `pending` never replayed, `replayed` replayed at least once."""

    @abstractmethod
    async def get(self, letter_id: int) -> DeadLetter | None:
        """One dead letter by id."""

    @abstractmethod
    async def mark_replayed(self, letter_id: int, at: datetime) -> DeadLetter:
        """Note one more replay of a known dead letter."""

    @abstractmethod
    async def pending(self) -> int:
        """How many dead letters were never replayed (the DLQ depth)."""


class SqlDeadLetters(DeadLetters):
    """Dead letters in the service database's `dead_letters` table."""

    def __init__(self, session: AsyncSession, table: sa.Table) -> None:
        self.session = session
        self.t = table

    async def add(self, letter: DeadLetter) -> int | None:
        """Record a dead letter; None if this (consumer, topic, partition, offset) is known."""
        values = {
            k: v
            for k, v in letter.__dict__.items()
            if k not in ("id", "dead_lettered_at", "replayed_at", "replays")
        }
        row = (
            await self.session.execute(
                insert(self.t)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["consumer", "topic", "partition", "offset"])
                .returning(self.t.c.id)
            )
        ).first()
        return None if row is None else int(row.id)

    async def list(self, *, topic: str | None, status: LetterStatus, limit: int) -> list[DeadLetter]:
        """Newest first; `pending` never replayed, `replayed` replayed at least once."""
        query = sa.select(self.t).order_by(self.t.c.id.desc()).limit(limit)
        if topic is not None:
            query = query.where(self.t.c.topic == topic)
        if status == "pending":
            query = query.where(self.t.c.replayed_at.is_(None))
        elif status == "replayed":
            query = query.where(self.t.c.replayed_at.is_not(None))
        return [_letter(r._mapping) for r in (await self.session.execute(query)).all()]

    async def get(self, letter_id: int) -> DeadLetter | None:
        """One dead letter by id."""
        row = (await self.session.execute(sa.select(self.t).where(self.t.c.id == letter_id))).first()
        return None if row is None else _letter(row._mapping)

    async def mark_replayed(self, letter_id: int, at: datetime) -> DeadLetter:
        """Note one more replay of a known dead letter."""
        row = (
            await self.session.execute(
                self.t.update()
                .where(self.t.c.id == letter_id)
                .values(replayed_at=at, replays=self.t.c.replays + 1)
                .returning(*self.t.c)
            )
        ).one()
        return _letter(row._mapping)

    async def pending(self) -> int:
        """How many dead letters were never replayed (the DLQ depth)."""
        query = sa.select(sa.func.count()).where(self.t.c.replayed_at.is_(None))
        return int((await self.session.execute(query)).scalar_one())


def _letter(row: Any) -> DeadLetter:
    return DeadLetter(
        consumer=row["consumer"],
        topic=row["topic"],
        partition=row["partition"],
        offset=row["offset"],
        key=None if row["key"] is None else bytes(row["key"]),
        payload=bytes(row["payload"]),
        headers=dict(row["headers"]),
        event_id=row["event_id"],
        error=row["error"],
        error_type=row["error_type"],
        attempts=row["attempts"],
        id=row["id"],
        dead_lettered_at=row["dead_lettered_at"],
        replayed_at=row["replayed_at"],
        replays=row["replays"],
    )
