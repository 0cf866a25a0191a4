"""The audit trail you can read: `AuditLog`, the read port over a service's `audit_log`
table (rows written by `UnitOfWork.audit`, one per state-changing request), its SQL
adapter, and the opaque cursor `GET /audit` pages with (the router is `audit_api.py`).

Ids are given in insertion order, so "newest first" is `id` descending and a page ends
where the next starts: the cursor is the last id shown, and the next page is every
matching row below it. No index beyond the primary key is needed for that order.
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

PREFIX_WILDCARD = "*"


@dataclass(frozen=True)
class AuditRecord:
    """Who did what to which entity, with the state before and after (what
    `UnitOfWork.audit` writes)."""

    actor: str
    role: str
    action: str
    entity: str
    before: Any
    after: Any
    request_id: str | None


@dataclass(frozen=True)
class AuditEntry(AuditRecord):
    """One audit row as stored: the record, its `id` (insertion order) and when (`at`)."""

    id: int
    at: datetime


@dataclass(frozen=True)
class AuditFilter:
    """Which rows to find. Every field left None matches everything.

    `entity` is an exact match, or a prefix match when it ends with `*` (`batch:*`,
    `quota:ann:*`); `actor` and `action` are exact. `since` is inclusive and `until`
    exclusive (`since <= at < until`). `below` keeps only ids below it (the cursor).
    """

    entity: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    below: int | None = None

    @property
    def entity_prefix(self) -> str | None:
        """The prefix `entity` names with a trailing `*`, else None (exact match)."""
        if self.entity is None or not self.entity.endswith(PREFIX_WILDCARD):
            return None
        return self.entity.removesuffix(PREFIX_WILDCARD)

    def matches(self, entry: AuditEntry) -> bool:
        """Whether `entry` passes this filter (the in-memory reading of the SQL one)."""
        prefix = self.entity_prefix
        if prefix is not None:
            entity_ok = entry.entity.startswith(prefix)
        else:
            entity_ok = self.entity is None or entry.entity == self.entity
        return (
            entity_ok
            and (self.actor is None or entry.actor == self.actor)
            and (self.action is None or entry.action == self.action)
            and (self.since is None or entry.at >= self.since)
            and (self.until is None or entry.at < self.until)
            and (self.below is None or entry.id < self.below)
        )


class AuditLog(ABC):
    """The port: read the audit rows of this service (they are written by `uow.audit`)."""

    @abstractmethod
    async def find(self, where: AuditFilter, limit: int) -> list[AuditEntry]:
        """At most `limit` rows matching `where`, newest (highest id) first."""


class SqlAuditLog(AuditLog):
    """The audit rows in the service database's `audit_log` table."""

    def __init__(self, session: AsyncSession, table: sa.Table) -> None:
        self.session = session
        self.t = table

    async def find(self, where: AuditFilter, limit: int) -> list[AuditEntry]:
        """At most `limit` rows matching `where`, newest (highest id) first."""
        c = self.t.c
        query = sa.select(self.t).order_by(c.id.desc()).limit(limit)
        prefix = where.entity_prefix
        if prefix is not None:
            query = query.where(c.entity.startswith(prefix, autoescape=True))
        elif where.entity is not None:
            query = query.where(c.entity == where.entity)
        if where.actor is not None:
            query = query.where(c.actor == where.actor)
        if where.action is not None:
            query = query.where(c.action == where.action)
        if where.since is not None:
            query = query.where(c.at >= where.since)
        if where.until is not None:
            query = query.where(c.at < where.until)
        if where.below is not None:
            query = query.where(c.id < where.below)
        rows = (await self.session.execute(query)).all()
        return [AuditEntry(**{f.name: getattr(r, f.name) for f in fields(AuditEntry)}) for r in rows]


_CURSOR_TAG = "audit:"


def encode_cursor(entry_id: int) -> str:
    """The opaque cursor of the page that follows the row `entry_id` (URL-safe)."""
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{entry_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The row id a cursor of `encode_cursor` stands for; ValueError for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("not a cursor of GET /audit") from exc
    number = text.removeprefix(_CURSOR_TAG)
    if number == text or not number.isdigit() or int(number) < 1:
        raise ValueError("not a cursor of GET /audit")
    return int(number)
